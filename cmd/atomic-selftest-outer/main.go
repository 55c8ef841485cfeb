// Command atomic-selftest-outer drives OSTree hosts from outside through
// upgrade, rollback, deploy and layering reboots and collects what each
// boot's self-test recorded. It is thin: it parses and validates flags,
// then calls package outer.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/atomic-selftest/atomic-selftest/cmd/internal/exit"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Exit codes, documented in the README and in the help.
const (
	ExitOK          = 0 // every step and every required host check passed
	ExitFailed      = 1 // a step failed or a host's required check failed
	ExitUsage       = 2 // bad flags, plan or inventory
	ExitInternal    = 3 // the driver itself broke (reports could not be written)
	ExitInterrupted = 4 // stopped by SIGINT/SIGTERM; the reports of what ran are written
)

const exitStatusHelp = `EXIT STATUS
  0  every step on every host and every required host check passed
  1  a step failed, a host was unreachable, or a required host check failed
  2  usage error: bad flag, plan file or inventory
  3  internal error: the reports could not be written
  4  interrupted (SIGINT/SIGTERM); the artifacts and reports of what ran are kept
`

func usagef(format string, a ...any) error { return exit.Errorf(ExitUsage, format, a...) }

func usageError(err error) error { return exit.Wrap(ExitUsage, err) }

func usage(w io.Writer) {
	fmt.Fprint(w, `atomic-selftest-outer: cycle OSTree hosts through upgrade, rollback, deploy and
layering reboots and collect their self-test results

Usage:
  atomic-selftest-outer run [OPTIONS]     run a plan against hosts
  atomic-selftest-outer plan [--profile NAME]   print a built-in plan as TOML

Run `+"`atomic-selftest-outer run --help`"+` for the options.

`+exitStatusHelp)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal stops the run cleanly; restoring the default
	// handling lets a second one end the driver at once.
	context.AfterFunc(ctx, func() {
		stop()
		fmt.Fprintln(os.Stderr, "atomic-selftest-outer: interrupted: ending the running steps and writing the reports (signal again to quit at once)")
	})
	os.Exit(mainCode(ctx, os.Args[1:], os.Stdout, os.Stderr, term.IsTerminal(int(os.Stderr.Fd()))))
}

func mainCode(ctx context.Context, args []string, stdout, stderr io.Writer, tty bool) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr, tty)
	case "plan":
		err = cmdPlan(args[1:], stdout)
	default:
		err = usagef("unknown command %q", args[0])
	}
	if err == nil {
		return ExitOK
	}
	code, silent, ok := exit.CodeOf(err)
	if !ok {
		code = ExitInternal
	}
	if !silent {
		// The message may quote a host (its console, its name).
		fmt.Fprintln(stderr, "atomic-selftest-outer:", record.Printable(err.Error()))
	}
	return code
}

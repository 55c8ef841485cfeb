// Command atomic-selftest-outer drives OSTree hosts from outside through
// upgrade, rollback, deploy and layering reboots and collects what each
// boot's self-test recorded. It is thin: each subcommand (cmd_*.go) has an
// options struct that registers its flags and a runX that validates them,
// with messages naming the flag, then calls the outer packages; main maps
// the error to an exit code.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
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

// env is what a command writes to.
type env struct {
	stdout, stderr io.Writer
	// tty is whether stderr is a terminal (the progress line redraws).
	tty bool
}

// command is one subcommand. flags registers a fresh options struct's
// flags on fs and returns the run that reads them: the help, the man page
// and the completions (dist/) are made from the same flag set.
type command struct {
	name, usage, short string
	// help is the text between the usage line and the options.
	help  string
	flags func(fs *pflag.FlagSet) func(ctx context.Context, e *env, args []string) error
}

// commands are the subcommands in the order the help lists them.
var commands = []*command{runCommand, planCommand}

func (c *command) flagSet() (*pflag.FlagSet, func(ctx context.Context, e *env, args []string) error) {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SortFlags = false
	return fs, c.flags(fs)
}

func usagef(format string, a ...any) error { return exit.Errorf(ExitUsage, format, a...) }

func usageError(err error) error { return exit.Wrap(ExitUsage, err) }

func usage(w io.Writer) {
	fmt.Fprint(w, "atomic-selftest-outer: cycle OSTree hosts through upgrade, rollback, deploy and\nlayering reboots and collect their self-test results\n\nUsage:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  atomic-selftest-outer %-26s %s\n", c.usage, c.short)
	}
	fmt.Fprint(w, "\nRun `atomic-selftest-outer COMMAND --help` for a command's options.\n\n"+exitStatusHelp)
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
	var c *command
	for _, x := range commands {
		if x.name == args[0] {
			c = x
		}
	}
	if c == nil {
		return finish(stderr, usagef("unknown command %q", args[0]))
	}
	fs, run := c.flagSet()
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: atomic-selftest-outer %s\n\n%s\nOptions:\n%s\n%s", c.usage, c.help, fs.FlagUsages(), exitStatusHelp)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return ExitOK
		}
		return finish(stderr, usageError(err))
	}
	return finish(stderr, run(ctx, &env{stdout: stdout, stderr: stderr, tty: tty}, fs.Args()))
}

// finish prints err (unless it is a silent exit status) and returns its
// exit code: the code it carries, else ExitInternal.
func finish(stderr io.Writer, err error) int {
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

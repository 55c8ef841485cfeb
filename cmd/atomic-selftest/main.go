// Command atomic-selftest verifies that an OSTree container host meets its
// release criteria. It is thin: each subcommand (cmd_*.go) parses and
// validates its flags, then calls the selftest packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	atomicselftest "github.com/atomic-selftest/atomic-selftest"
	"github.com/atomic-selftest/atomic-selftest/cmd/internal/exit"
	"github.com/atomic-selftest/atomic-selftest/selftest/session"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"

	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/all"
)

// Exit codes, documented in the README and in every command's help.
const (
	ExitOK       = 0 // every required check passed (or skipped with a reason)
	ExitFailed   = 1 // a required check failed, errored or was blocked
	ExitUsage    = 2 // bad flags, unknown check, bad configuration
	ExitInternal = 3 // the tool itself broke
	ExitNoSave   = 4 // the run finished but its results could not be saved (disk full, read-only)
	ExitLocked   = 5 // another run held the results lock past the wait bound
	ExitTimeout  = 6 // results --wait-boot: no run of that boot within --timeout
)

const exitStatusHelp = `EXIT STATUS
  0  every required check passed or was skipped with a reason
  1  a required check failed, errored or was blocked
  2  usage error: bad flag, unknown check, bad configuration
  3  internal error
  4  the results could not be saved (disk full, read-only /var); earlier results are intact
  5  another run held the results lock longer than results.lock_timeout
  6  results --wait-boot: no run of that boot was saved within --timeout
`

// command is one subcommand.
type command struct {
	name  string
	short string
	usage string
	// flags registers the command's options on fs.
	flags func(fs *pflag.FlagSet)
	run   func(ctx context.Context, env *env, args []string) error
}

// env is what a command writes to.
type env struct {
	stdout, stderr io.Writer
	isTTY          bool
}

// flagSet builds the command's flags. The help, the man page and the
// shell completions (dist/man, dist/completion) are all made from it.
func (c *command) flagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("atomic-selftest "+c.name, pflag.ContinueOnError)
	fs.SortFlags = false
	if c.flags != nil {
		c.flags(fs)
	}
	return fs
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func usageErr(format string, args ...any) error {
	return exit.Errorf(ExitUsage, format, args...)
}

// codeFor maps an error from the packages to an exit code.
func codeFor(err error) int {
	if code, _, ok := exit.CodeOf(err); ok {
		return code
	}
	switch {
	case errors.Is(err, session.ErrUsage):
		return ExitUsage
	case errors.Is(err, store.ErrLocked):
		return ExitLocked
	case errors.Is(err, store.ErrNoSpace), errors.Is(err, store.ErrReadOnly):
		return ExitNoSave
	}
	return ExitInternal
}

func mainUsage(w io.Writer) {
	fmt.Fprintf(w, "atomic-selftest %s: verify an OSTree container host against its release criteria\n\n", atomicselftest.Version)
	fmt.Fprintln(w, "Usage: atomic-selftest COMMAND [OPTIONS]")
	fmt.Fprintln(w, "\nCommands:")
	var names []string
	for n := range commands {
		if commands[n].short != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].short)
	}
	fmt.Fprintln(w, "\nRun `atomic-selftest COMMAND --help` for a command's options.")
	fmt.Fprintln(w)
	fmt.Fprint(w, exitStatusHelp)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(realMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, isTTY: isTerminal(stdout)}
	if len(args) == 0 {
		mainUsage(stderr)
		return ExitUsage
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		mainUsage(stdout)
		return ExitOK
	}
	if name == "--version" {
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "atomic-selftest: unknown command %q\n\n", name)
		mainUsage(stderr)
		return ExitUsage
	}
	fs := c.flagSet()
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: atomic-selftest %s\n\n%s\n\nOptions:\n%s\n%s", c.usage, c.short, fs.FlagUsages(), exitStatusHelp)
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return ExitOK
		}
		fmt.Fprintf(stderr, "atomic-selftest %s: %v\n", c.name, err)
		return ExitUsage
	}
	err := c.run(ctx, e, fs.Args())
	if err == nil {
		return ExitOK
	}
	code := codeFor(err)
	if _, silent, _ := exit.CodeOf(err); silent {
		return code
	}
	msg := err.Error()
	if code == ExitInternal {
		msg = "internal error: " + msg
	}
	fmt.Fprintf(stderr, "atomic-selftest %s: %s\n", c.name, strings.TrimPrefix(msg, session.ErrUsage.Error()+": "))
	return code
}

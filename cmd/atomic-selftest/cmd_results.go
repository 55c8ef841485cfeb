package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/spf13/pflag"

	"github.com/atomic-selftest/atomic-selftest/cmd/internal/exit"
	"github.com/atomic-selftest/atomic-selftest/selftest/format"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

type resultsOptions struct {
	last       int
	boot       string
	waitBoot   string
	timeout    time.Duration
	format     string
	resultsDir string
	verbose    bool
}

var resultsOpts resultsOptions

func init() {
	register(&command{
		name:  "results",
		short: "print saved runs, from this boot or another",
		usage: "results [--last N] [--boot ID] [--wait-boot ID [--timeout D]] [--format text|json|junit|tap|prometheus] [--results-dir DIR]",
		flags: func(fs *pflag.FlagSet) {
			fs.IntVar(&resultsOpts.last, "last", 1, "print the newest N runs (0 for all)")
			fs.StringVar(&resultsOpts.boot, "boot", "", "only runs of the boot whose id starts with `ID`")
			fs.StringVar(&resultsOpts.waitBoot, "wait-boot", "", "wait until the boot-triggered run of the boot `ID` (32 hex digits, dashes allowed) is saved, then print it; exit 6 if none is within --timeout")
			fs.DurationVar(&resultsOpts.timeout, "timeout", 5*time.Minute, "bound on --wait-boot")
			fs.StringVar(&resultsOpts.format, "format", "text", "output format: text, json, junit, tap or prometheus (the newest run only)")
			fs.StringVar(&resultsOpts.resultsDir, "results-dir", store.DefaultDir, "directory of run records")
			fs.BoolVarP(&resultsOpts.verbose, "verbose", "v", false, "text format: show the evidence of every check")
		},
		run: func(ctx context.Context, e *env, args []string) error { return runResults(ctx, e, resultsOpts, args) },
	})
}

var bootIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

func runResults(ctx context.Context, e *env, o resultsOptions, args []string) error {
	if len(args) > 0 {
		return usageErr("results takes no arguments")
	}
	if o.last < 0 {
		return usageErr("--last: must be 0 or more, got %d", o.last)
	}
	f, err := format.Get(o.format, format.Options{Color: e.isTTY, List: true, Verbose: o.verbose})
	if err != nil {
		return usageErr("--format: %v", err)
	}
	if o.waitBoot != "" {
		return waitResults(ctx, e, o, f)
	}
	if err := checkDir(o.resultsDir); err != nil {
		return usageErr("--results-dir: %v", err)
	}
	st := &store.Store{Dir: o.resultsDir}
	runs, problems, err := st.Runs(store.Filter{Last: o.last, BootID: o.boot})
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "atomic-selftest results: skipped unreadable record %s\n", record.Printable(p.Error()))
	}
	if len(runs) == 0 && o.boot != "" {
		return usageErr("--boot: no runs recorded for a boot id starting with %q", o.boot)
	}
	return f.Write(e.stdout, runs)
}

// waitResults is `results --wait-boot ID`: the outer driver's one blocking
// command that ends the moment the boot's run record is saved.
func waitResults(ctx context.Context, e *env, o resultsOptions, f format.Formatter) error {
	boot := stripDashes(o.waitBoot)
	if !bootIDRe.MatchString(boot) {
		return usageErr("--wait-boot %q: want a boot id, 32 hex digits (/proc/sys/kernel/random/boot_id)", o.waitBoot)
	}
	if o.boot != "" {
		return usageErr("--wait-boot and --boot exclude each other")
	}
	if o.timeout <= 0 {
		return usageErr("--timeout %s: want a positive duration", o.timeout)
	}
	rec, err := (&store.Store{Dir: o.resultsDir}).WaitBootRun(ctx, boot, o.timeout)
	if errors.Is(err, store.ErrWaitTimeout) {
		return exit.Errorf(ExitTimeout, "--wait-boot: %v", err)
	}
	if err != nil {
		return err
	}
	return f.Write(e.stdout, []*record.Record{rec})
}

func stripDashes(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

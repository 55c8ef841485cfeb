package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/atomic-selftest/atomic-selftest/selftest/format"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

type resultsOptions struct {
	last       int
	boot       string
	format     string
	resultsDir string
	verbose    bool
}

var resultsOpts resultsOptions

func init() {
	register(&command{
		name:  "results",
		short: "print saved runs, from this boot or another",
		usage: "results [--last N] [--boot ID] [--format text|json|junit|tap|prometheus] [--results-dir DIR]",
		flags: func(fs *pflag.FlagSet) {
			fs.IntVar(&resultsOpts.last, "last", 1, "print the newest N runs (0 for all)")
			fs.StringVar(&resultsOpts.boot, "boot", "", "only runs of the boot whose id starts with `ID`")
			fs.StringVar(&resultsOpts.format, "format", "text", "output format: text, json, junit, tap or prometheus (the newest run only)")
			fs.StringVar(&resultsOpts.resultsDir, "results-dir", store.DefaultDir, "directory of run records")
			fs.BoolVarP(&resultsOpts.verbose, "verbose", "v", false, "text format: show the evidence of every check")
		},
		run: func(ctx context.Context, e *env, args []string) error { return runResults(ctx, e, resultsOpts, args) },
	})
}

func runResults(_ context.Context, e *env, o resultsOptions, args []string) error {
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
	if err := checkDir(o.resultsDir); err != nil {
		return usageErr("--results-dir: %v", err)
	}
	st := &store.Store{Dir: o.resultsDir}
	runs, problems, err := st.Runs(store.Filter{Last: o.last, BootID: o.boot})
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "atomic-selftest results: skipped unreadable record %s\n", format.Printable(p.Error()))
	}
	if len(runs) == 0 && o.boot != "" {
		return usageErr("--boot: no runs recorded for a boot id starting with %q", o.boot)
	}
	return f.Write(e.stdout, runs)
}

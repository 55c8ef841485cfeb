package main

import (
	"context"
	"fmt"

	"github.com/atomic-selftest/atomic-selftest/cmd/internal/exit"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"

	"github.com/spf13/pflag"

	atomicselftest "github.com/atomic-selftest/atomic-selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/format"
	"github.com/atomic-selftest/atomic-selftest/selftest/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/session"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

type runOptions struct {
	checks     []string
	format     string
	trigger    string
	resultsDir string
	noSave     bool
	sysroot    string
	report     string
	verbose    bool
	configDirs []string
	probe      string
	engine     string
}

var runOpts runOptions

func (o *runOptions) register(fs *pflag.FlagSet) {
	fs.StringSliceVar(&o.checks, "check", nil, "run only these checks (comma-separated ids) and what they depend on")
	fs.StringVar(&o.format, "format", "text", "output format: text, json, junit, tap or prometheus")
	fs.StringVar(&o.trigger, "trigger", record.TriggerManual, "why this run happens: boot, deployment-change, manual, or deadline (wait until [health] boot_deadline after the boot; judge the host then unless the boot run saved its record)")
	fs.StringVar(&o.resultsDir, "results-dir", store.DefaultDir, "directory for run records")
	fs.BoolVar(&o.noSave, "no-save", false, "do not save the run record or touch the results directory")
	fs.StringVar(&o.sysroot, "sysroot", "", "check a mounted image or unbooted sysroot at `DIR` (read-only checks only)")
	fs.StringVar(&o.report, "report", "auto", "report to the journal, sd_notify and /run/motd.d: auto (on a live host with the default results directory), yes or no")
	fs.StringArrayVar(&o.configDirs, "config-dir", nil, "read *.toml configuration from `DIR` (repeatable) instead of /usr/lib/atomic-selftest/config.d and /etc/atomic-selftest/config.d")
	fs.StringVar(&o.engine, "engine", "", "container engine the runtime and storage checks talk to: auto, docker or podman (overrides [runtime] engine)")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "text format: show the evidence of every check")
	// Hidden: the container probes run the running executable, which a
	// test binary cannot be; tests point them at a static build.
	fs.StringVar(&o.probe, "probe-binary", "", "run `FILE` (a static atomic-selftest) as the container probe")
	_ = fs.MarkHidden("probe-binary")
}

func init() {
	register(&command{
		name:  "run",
		short: "run the checks, save the run record and print it",
		usage: "run [--check ID,...] [--format text|json|junit|tap|prometheus] [--trigger boot|deployment-change|manual|deadline] [--results-dir DIR] [--no-save] [--sysroot DIR] [--engine auto|docker|podman]",
		flags: runOpts.register,
		run:   func(ctx context.Context, e *env, args []string) error { return runRun(ctx, e, runOpts, args) },
	})
}

func runRun(ctx context.Context, e *env, o runOptions, args []string) error {
	if len(args) > 0 {
		return usageErr("run takes no arguments, got %q", args[0])
	}
	f, err := format.Get(o.format, format.Options{Color: e.isTTY, Verbose: o.verbose})
	if err != nil {
		return usageErr("--format: %v", err)
	}
	opts := session.Options{
		Root:        o.sysroot,
		ResultsDir:  o.resultsDir,
		NoSave:      o.noSave,
		Trigger:     o.trigger,
		CheckIDs:    o.checks,
		Version:     atomicselftest.Version,
		ProbeBinary: o.probe,
	}
	switch o.report {
	case "auto":
		if o.sysroot == "" && !o.noSave && o.resultsDir == store.DefaultDir {
			r := report.Live()
			opts.Report = &r
		}
	case "yes":
		r := report.Live()
		opts.Report = &r
	case "no":
	default:
		return usageErr("--report: %q is not one of auto, yes, no", o.report)
	}
	if o.sysroot != "" {
		if err := checkDir(o.sysroot); err != nil {
			return usageErr("--sysroot: %v", err)
		}
	}
	if len(o.configDirs) > 0 {
		for _, d := range o.configDirs {
			if err := checkDir(d); err != nil {
				return usageErr("--config-dir: %v", err)
			}
		}
		cfg, err := config.LoadDirs(o.configDirs...)
		if err != nil {
			return usageErr("%v", err)
		}
		opts.Config = cfg
	}
	if o.engine != "" {
		if err := config.CheckEngine(o.engine); err != nil {
			return usageErr("--engine: %v", err)
		}
		if opts.Config == nil {
			// What the session would load, so that the flag overrides
			// only [runtime] engine.
			cfg, err := config.LoadFor(o.sysroot)
			if err != nil {
				return usageErr("%v", err)
			}
			opts.Config = cfg
		}
		opts.Config.Runtime.Engine = o.engine
	}
	out, err := session.Run(ctx, opts)
	if err != nil {
		return err
	}
	if out.NotRun != "" {
		fmt.Fprintf(e.stdout, "atomic-selftest run: %s\n", out.NotRun)
		return nil
	}
	for _, p := range out.Problems {
		fmt.Fprintf(e.stderr, "atomic-selftest run: warning: ignored unreadable state: %s\n", p)
	}
	if err := f.Write(e.stdout, []*record.Record{out.Record}); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if out.ReportErr != nil {
		fmt.Fprintf(e.stderr, "atomic-selftest run: warning: the run was saved but not published: %v\n", out.ReportErr)
	}
	if out.HealthErr != nil {
		fmt.Fprintf(e.stderr, "atomic-selftest run: warning: the [health] policy could not act: %v\n", out.HealthErr)
	}
	if out.SaveErr != nil {
		return fmt.Errorf("the run finished but was not saved: %w", out.SaveErr)
	}
	if !out.Record.Summary.OK {
		return exit.Status(ExitFailed)
	}
	return nil
}

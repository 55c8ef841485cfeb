package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/notice"
	"github.com/atomic-selftest/atomic-selftest/selftest/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/session"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

type ackOptions struct {
	resultsDir string
}

var ackOpts ackOptions

func init() {
	register(&command{
		name:  "ack",
		short: "acknowledge the latest automatic rollback: its banner leaves status and the motd until a new one",
		usage: "ack [--results-dir DIR]",
		flags: func(fs *pflag.FlagSet) {
			fs.StringVar(&ackOpts.resultsDir, "results-dir", store.DefaultDir, "directory of run records and "+notice.AckFile)
		},
		run: func(ctx context.Context, e *env, args []string) error { return runAck(ctx, e, ackOpts, args) },
	})
}

func runAck(ctx context.Context, e *env, o ackOptions, args []string) error {
	if len(args) > 0 {
		return usageErr("ack takes no arguments, got %q", args[0])
	}
	if err := checkDir(o.resultsDir); err != nil {
		return usageErr("--results-dir: %v", err)
	}
	cfg, err := config.Load("/")
	if err != nil {
		return usageErr("%v", err)
	}
	rec, err := notice.Acknowledge(ctx, o.resultsDir, session.ReadBootID(), cfg.Results.LockTimeout.D(), time.Now())
	if err != nil {
		return err
	}
	if rec == nil {
		fmt.Fprintln(e.stdout, "no automatic rollback to acknowledge")
		return nil
	}
	fmt.Fprintf(e.stdout, "acknowledged: %s (record %s)\n", notice.Banner(rec), rec.ID)
	if o.resultsDir == store.DefaultDir {
		// The login banner goes now, not at the next run.
		if err := report.RefreshMotd(report.DefaultMotdPath, o.resultsDir); err != nil {
			fmt.Fprintf(e.stderr, "atomic-selftest ack: warning: %v\n", err)
		}
	}
	return nil
}

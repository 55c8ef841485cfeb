package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

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
	rec, err := waitBootRun(ctx, o.resultsDir, boot, o.timeout)
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

// waitBootRun blocks until dir holds the run record that the boot boot
// itself triggered (atomic-selftest.service at boot), or bound passes. It
// watches dir with inotify (a record is saved by a rename into dir, which
// is IN_MOVED_TO) and looks again after each batch of events; the watch is
// set before the first look, so a record saved in between is not missed.
// It sleeps in poll(2) on the inotify descriptor and on an eventfd that
// the end of ctx writes to, so neither a record nor the bound nor a
// signal waits for a polling interval. A directory that does not exist
// yet (no run has ever been saved) is looked for once a second.
func waitBootRun(ctx context.Context, dir, boot string, bound time.Duration) (*record.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	defer unix.Close(fd)
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	defer unix.Close(wake)
	stop := context.AfterFunc(ctx, func() { unix.Write(wake, []byte{1, 0, 0, 0, 0, 0, 0, 0}) })
	defer stop()
	watching := false
	buf := make([]byte, 64<<10)
	for {
		if !watching {
			_, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_ONLYDIR)
			switch {
			case err == nil:
				watching = true
			case !errors.Is(err, unix.ENOENT):
				return nil, fmt.Errorf("watching %s: %w", dir, err)
			}
		}
		if watching {
			if rec, err := bootRun(dir, boot); err != nil || rec != nil {
				return rec, err
			}
		}
		// Sleep until inotify has events or ctx ends (its deadline, or
		// SIGTERM); while the directory is missing, look once a second.
		wait := -1
		if !watching {
			wait = 1000
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, wait); err != nil && !errors.Is(err, unix.EINTR) {
			return nil, fmt.Errorf("waiting on %s: %w", dir, err)
		}
		for {
			if _, err := unix.Read(fd, buf); err != nil {
				break // EAGAIN: drained
			}
		}
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// One last look: the record may have come with the deadline.
				if rec, err := bootRun(dir, boot); err != nil || rec != nil {
					return rec, err
				}
				return nil, exit.Errorf(ExitTimeout, "--wait-boot: no run of boot %s saved in %s within %s", boot, dir, bound)
			}
			return nil, ctx.Err()
		}
	}
}

// bootRun returns the boot-triggered run of boot in dir, or nil.
func bootRun(dir, boot string) (*record.Record, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	runs, _, err := (&store.Store{Dir: dir}).Runs(store.Filter{BootID: boot})
	if err != nil {
		return nil, err
	}
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].BootID == boot && runs[i].Trigger == record.TriggerBoot {
			return runs[i], nil
		}
	}
	return nil, nil
}

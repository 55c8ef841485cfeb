package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/notice"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// The deadline run (issue 31). atomic-selftest-deadline.timer starts
// `run --trigger deadline` early in every boot, ordered after nothing a
// release can hang; the run waits, without the results lock, until the
// boot run saves this boot's record (then it does nothing) or until
// [health] boot_deadline after the boot started (then it judges the host
// as it is). The wait is bounded by the deadline itself (at most
// config.MaxBootDeadline) and ends at once on SIGTERM.

// uptime is Options.Uptime or, by default, Uptime.
func (o Options) uptime() (time.Duration, error) {
	if o.Uptime != nil {
		return o.Uptime()
	}
	return Uptime()
}

// Uptime is the time since the boot started on CLOCK_BOOTTIME, which
// systemd's OnBootSec= also counts (it includes time suspended).
func Uptime() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, fmt.Errorf("reading CLOCK_BOOTTIME: %w", err)
	}
	return time.Duration(ts.Nano()), nil
}

// awaitDeadline waits for the boot's deadline. It returns the options
// with the configuration loaded, and why the run is not to happen ("")
// when the deadline passed without a record of the boot run.
func awaitDeadline(ctx context.Context, o Options) (Options, string, error) {
	if o.NoSave || (o.Root != "" && o.Root != "/") {
		return o, "", fmt.Errorf("%w: --trigger deadline judges this boot of this host: not with --no-save or --sysroot", ErrUsage)
	}
	if o.ResultsDir == "" {
		o.ResultsDir = store.DefaultDir
	}
	if o.Config == nil {
		cfg, err := config.Load("/")
		if err != nil {
			return o, "", fmt.Errorf("%w: %w", ErrUsage, err)
		}
		o.Config = cfg
	}
	bound := o.Config.Health.BootDeadline.D()
	if bound == 0 {
		return o, "health.boot_deadline is 0: this boot has no deadline", nil
	}
	boot := ReadBootID()
	up, err := o.uptime()
	if err != nil {
		return o, "", err
	}
	st := &store.Store{Dir: o.ResultsDir}
	if left := bound - up; left > 0 {
		t0 := time.Now()
		rec, err := st.WaitBootRun(ctx, boot, left)
		o.waited = append(o.waited, record.Wait{For: "the boot run's record, until the deadline", Sec: time.Since(t0).Seconds(), BoundSec: left.Seconds()})
		switch {
		case rec != nil:
			return o, judged(rec), nil
		case ctx.Err() != nil:
			// Stopped while waiting (a shutdown): nothing was judged, and
			// nothing failed.
			return o, fmt.Sprintf("stopped %s after the boot, before its deadline (%s); nothing judged", (bound - left).Round(time.Second), bound), nil
		case errors.Is(err, store.ErrWaitTimeout):
		case err != nil:
			return o, "", fmt.Errorf("waiting for the boot run's record until the deadline (%s after the boot): %w", bound, err)
		}
	} else if rec, err := st.BootRun(boot); err != nil {
		return o, "", err
	} else if rec != nil {
		return o, judged(rec), nil
	}
	return o, "", ctx.Err()
}

// bootJudged says, under the results lock, whether this boot already has
// the record of its boot run (or of an earlier deadline run).
func (s *runState) bootJudged() string {
	if r, err := s.st.BootRun(s.rc.Host.BootID); err == nil && r != nil {
		return judged(r)
	}
	return ""
}

func judged(r *record.Record) string {
	return fmt.Sprintf("this boot is judged already: run %s (trigger %s) saved at %s; nothing to do",
		r.ID, r.Trigger, r.End.UTC().Format(time.RFC3339))
}

// jobsTimeout bounds the D-Bus calls of ThisBoot: status must answer
// even when systemd does not.
const jobsTimeout = 5 * time.Second

// ThisBoot is what `status` shows first: the current boot's id, how long
// since it started, its deadline, and, when judged is false, systemd's
// jobs (the boot run's own among them) over D-Bus, on a host where
// systemd is PID 1 or DBUS_SYSTEM_BUS_ADDRESS names a bus.
func ThisBoot(ctx context.Context, judged bool) notice.Boot {
	b := notice.Boot{ID: ReadBootID()}
	b.Uptime, _ = Uptime()
	if cfg, err := config.Load("/"); err == nil {
		b.Deadline = cfg.Health.BootDeadline.D()
	} else {
		b.Deadline = config.Defaults().Health.BootDeadline.D()
	}
	if judged {
		return b
	}
	h := selftest.NewHost("/")
	defer h.Close()
	if !h.SystemdBooted() && os.Getenv("DBUS_SYSTEM_BUS_ADDRESS") == "" {
		b.JobsErr = errors.New(selftest.NoSystemd)
		return b
	}
	ctx, cancel := context.WithTimeout(ctx, jobsTimeout)
	defer cancel()
	sd, err := h.Systemd(ctx)
	if err == nil {
		b.Jobs, err = selftest.Waiting(ctx, sd)
	}
	b.JobsErr = err
	return b
}

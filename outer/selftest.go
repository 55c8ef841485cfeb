package outer

// Waiting for the self-test's run record of a boot.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Ways the driver learns of a boot's run record.
const (
	WaitBlocking = "wait-boot" // the host's `atomic-selftest results --wait-boot`
	WaitPoll     = "poll"      // listing the results directory with backoff
)

// waitSlice bounds one blocking wait on the host, so that between two of
// them the driver can notice atomic-selftest.service failing without a
// record.
const waitSlice = 30 * time.Second

// errNoWaitOption is a host whose self-test has no `results --wait-boot`
// (older than the option): the driver polls it instead.
var errNoWaitOption = errors.New("the host's self-test has no results --wait-boot")

// records finds a host's run records in its results directory: the one
// a boot's atomic-selftest.service writes, with the host's blocking wait
// where its self-test has one, or one a match accepts by listing the
// directory with backoff. The zero mode tries the blocking wait first.
type records struct {
	m    transport.Machine
	opts *Options // Selftest, ResultsDir, Poll
	mode string   // WaitBlocking or WaitPoll, once known
}

// waitSelftest waits (bounded) for the run record of the current boot.
func (h *hostRun) waitSelftest(ctx context.Context, bound time.Duration) (*record.Record, error) {
	boot, err := h.currentBoot(ctx)
	if err != nil {
		return nil, err
	}
	return h.records.boot(ctx, boot, bound)
}

// currentBoot is the id of the boot the host is on, read from the host
// the first time a step needs it (a plan may begin with a deployment
// command, before any wait for a boot) and again after each reboot.
func (h *hostRun) currentBoot(ctx context.Context) (string, error) {
	if h.bootID == "" {
		id, err := h.m.BootID(ctx)
		if err != nil {
			return "", err
		}
		h.bootID = id
	}
	return h.bootID, nil
}

// boot waits for the run record of boot written by
// atomic-selftest.service: with the host's blocking wait, or by polling
// when the host's self-test lacks it (then for the rest of the run).
func (r *records) boot(ctx context.Context, boot string, bound time.Duration) (*record.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	if r.mode != WaitPoll {
		rec, err := r.blocking(ctx, boot, bound)
		if !errors.Is(err, errNoWaitOption) {
			if err == nil {
				r.mode = WaitBlocking
			}
			return rec, err
		}
		r.mode = WaitPoll
	}
	return r.poll(ctx, boot, bound, "atomic-selftest.service", func(rec *record.Record) bool { return record.JudgesBoot(rec.Trigger) })
}

// waitBlocking runs `atomic-selftest results --wait-boot` on the host in
// slices of waitSlice: each returns the moment the record is saved (exit
// 0, the record as JSON), or exits 6 at the end of its slice. A self-test
// that does not know the option fails with pflag's "unknown flag:
// --wait-boot" and exit 2, or is missing (127): errNoWaitOption.
func (r *records) blocking(ctx context.Context, boot string, bound time.Duration) (*record.Record, error) {
	for {
		slice := waitSlice
		if dl, ok := ctx.Deadline(); ok {
			slice = min(slice, time.Until(dl))
		}
		if slice < 100*time.Millisecond {
			<-ctx.Done()
			return nil, waitErr(ctx, ctx.Err(), boot, bound, "atomic-selftest.service")
		}
		argv := []string{r.opts.Selftest, "results", "--wait-boot", boot, "--timeout", slice.String(),
			"--format", "json", "--results-dir", r.opts.ResultsDir}
		res, err := r.m.Run(ctx, slice+30*time.Second, argv...)
		if err != nil {
			return nil, waitErr(ctx, err, boot, bound, "atomic-selftest.service")
		}
		switch {
		case res.ExitCode == 0:
			var raw []json.RawMessage
			if err := json.Unmarshal(res.Stdout, &raw); err != nil || len(raw) != 1 {
				return nil, fmt.Errorf("`%s` printed no run record (%d records, %v)", transport.DisplayArgv(argv), len(raw), err)
			}
			rec, err := record.Decode(raw[0])
			if err != nil {
				return nil, fmt.Errorf("run record of boot %s: %w", record.Short(boot), err)
			}
			if rec.BootID != boot || !record.JudgesBoot(rec.Trigger) {
				return nil, fmt.Errorf("`%s` printed the run of boot %s (trigger %s)", transport.DisplayArgv(argv), record.Short(rec.BootID), rec.Trigger)
			}
			return rec, nil
		case res.ExitCode == 127, res.ExitCode == 2 && strings.Contains(string(res.Stderr), "unknown flag: --wait-boot"):
			return nil, errNoWaitOption
		case res.ExitCode == 6: // the slice passed without the record
			if err := r.serviceFailed(ctx, boot, "atomic-selftest.service"); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("`%s` exited %d: %s", transport.DisplayArgv(argv), res.ExitCode, transport.LastLine(res.Stderr))
		}
	}
}

// serviceFailed is an error when unit failed on this boot: no record is
// coming.
func (r *records) serviceFailed(ctx context.Context, boot, unit string) error {
	res, err := r.m.Run(ctx, time.Minute, "systemctl", "show", "-p", "ActiveState", "--value", unit)
	if err == nil && strings.TrimSpace(string(res.Stdout)) == "failed" {
		return fmt.Errorf("%s failed on boot %s without writing a run record (see the journal)", unit, record.Short(boot))
	}
	return nil
}

// waitPoll lists the results directory with backoff and reads each
// candidate file once, bounded by transport.Limits.Record, until a record
// of this boot that match accepts: the one unit writes.
func (r *records) poll(ctx context.Context, boot string, bound time.Duration, unit string, match func(*record.Record) bool) (*record.Record, error) {
	if boot == "" {
		// Nothing would ever match: fail now, not at the bound.
		return nil, fmt.Errorf("waiting for a run record of %s: the boot id is unknown", unit)
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	seen := map[string]bool{}
	var delay time.Duration
	pattern := runPattern(boot)
	for {
		out, err := transport.Output(ctx, r.m, time.Minute, "find", r.opts.ResultsDir, "-maxdepth", "1", "-name", pattern)
		if err != nil {
			if errors.Is(err, transport.ErrConnection) || ctx.Err() != nil {
				return nil, waitErr(ctx, err, boot, bound, unit)
			}
			// The results directory may not exist before the first run.
		}
		names := strings.Fields(string(out))
		sort.Sort(sort.Reverse(sort.StringSlice(names))) // newest first: names begin with the time
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			data, err := r.m.ReadFile(ctx, n, transport.Limits.Record)
			if err != nil {
				return nil, waitErr(ctx, err, boot, bound, unit)
			}
			rec, err := record.Decode(data)
			if err != nil {
				return nil, fmt.Errorf("run record %s: %w", n, err)
			}
			if rec.BootID == boot && match(rec) {
				return rec, nil
			}
		}
		// Only the boot's service says for sure that no record is coming:
		// the deployment-change service may still be failed from an
		// earlier run of this boot.
		if len(names) == 0 && unit == "atomic-selftest.service" {
			if err := r.serviceFailed(ctx, boot, unit); err != nil {
				return nil, err
			}
		}
		delay = r.opts.Poll.next(delay)
		if err := sleep(ctx, delay); err != nil {
			return nil, waitErr(ctx, err, boot, bound, unit)
		}
	}
}

func waitErr(ctx context.Context, err error, boot string, bound time.Duration, unit string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no run record of boot %s from %s within %s", record.Short(boot), unit, bound)
	}
	return err
}

// gotRecord keeps rec as the boot's record and times the step: from the
// host's sshd answering to the self-test's start, its run, and the
// driver's lag behind the record's save. The host's clock (the record's
// times, the file's mtime) is put on the driver's by the offset hostClock
// measures: a guest's clock can be seconds off the driver's.
func (h *hostRun) gotRecord(ctx context.Context, sr *report.StepReport, rec *record.Record) {
	seen := time.Now().UTC()
	h.record = rec
	t := &report.StepTiming{SSHUp: h.upAt, RecordStart: rec.Start, RecordEnd: rec.End, RecordSeen: seen, Wait: h.records.mode,
		RunSec: rec.End.Sub(rec.Start).Seconds()}
	sr.Timing = t
	if h.upAt.IsZero() {
		return
	}
	// Uncorrected when the host cannot say its time.
	offset, err := h.hostClock(ctx)
	if err == nil {
		t.ClockOffsetSec = offset.Seconds()
	}
	// A record older than the driver's first contact (the baseline's
	// boot) says nothing about sshd or the driver's lag.
	if !rec.Start.Add(-offset).After(h.upAt) {
		t.SSHUp = time.Time{}
		return
	}
	saved := rec.End
	if rec.ID != "" {
		if m, err := h.mtime(ctx, h.opts.ResultsDir+"/"+rec.ID+".json"); err == nil {
			t.RecordSaved = m.UTC()
			saved = t.RecordSaved
		}
	}
	t.SSHToStartSec = rec.Start.Add(-offset).Sub(h.upAt).Seconds()
	t.LagSec = max(seen.Sub(saved.Add(-offset)).Seconds(), 0)
}

// hostClock is how far the host's clock is ahead of the driver's: the
// host's time read halfway through a round trip (`date`), to within half
// that round trip.
func (h *hostRun) hostClock(ctx context.Context) (time.Duration, error) {
	before := time.Now()
	out, err := h.run(ctx, time.Minute, "date", "+%s.%N")
	if err != nil {
		return 0, err
	}
	rtt := time.Since(before)
	host := unixTime(strings.TrimSpace(string(out)))
	if host.IsZero() || host.Unix() == 0 {
		return 0, fmt.Errorf("the host's date printed %q", out)
	}
	return host.Sub(before.Add(rtt / 2)), nil
}

// runPattern matches the names of the run records of a boot: the host's
// store names them run-s<sequence>-<UTC start>-<first 8 characters of the
// boot id>.json, and older versions run-<UTC start>-<boot>.json
// (selftest/store.RunID and RunName; TestRunPatternMatchesTheStore holds
// the pattern to RunName's ending).
func runPattern(bootID string) string {
	return "run-*-" + bootID[:min(len(bootID), 8)] + ".json"
}

package outer

// A host that rejects a deployment by itself (issue 12): the boot's
// self-test fails, the host's [health] policy rolls back to the previous
// deployment and reboots. A step with expect_host_rollback expects it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// waitHostRollback is the wait-selftest action of a step that expects
// the host to reject its deployment: the failing boot's record must
// order a rollback; then the driver waits (bounded) for the host's own
// reboot by boot id and for the next boot's record, which collect judges
// against the deployment booted before the step.
//
// Under [health] reboot_attempts the host first reboots the failing
// deployment by itself (health action reboot) and tests it again: the
// driver follows each such reboot to the next boot's record, up to
// maxHostReboots, and the step's report lists them.
func (h *hostRun) waitHostRollback(ctx context.Context, sr *report.StepReport, bound time.Duration) (string, error) {
	rec, rebooted, err := h.rejectedRecord(ctx, bound)
	if err != nil {
		return "", err
	}
	found := time.Now()
	var reboots []report.HostReboot
	for rec.Health != nil && rec.Health.Action == record.HealthReboot && !rec.Summary.OK {
		rb := report.HostReboot{BootID: h.bootID, Record: rec, Reason: healthReason(rec)}
		if len(reboots) > 0 && !sameDeployment(reboots[0].Record.Deployment, rec.Deployment) {
			return "", fmt.Errorf("the host rebooted by itself to retry %s, but boot %s runs %s", family.Describe(reboots[0].Record.Deployment), record.Short(h.bootID), family.Describe(rec.Deployment))
		}
		reboots = append(reboots, rb)
		if data, err := json.MarshalIndent(rec, "", "  "); err == nil {
			h.save(sr, fmt.Sprintf("record-rebooted-boot-%d.json", len(reboots)), append(data, '\n'))
		}
		if len(reboots) > maxHostReboots {
			return "", fmt.Errorf("the host rebooted %s by itself %d times without rolling back; [health] reboot_attempts is at most %d", family.Describe(rec.Deployment), len(reboots), maxHostReboots)
		}
		id := rebooted
		if id == "" {
			if id, err = WaitUp(ctx, h.m, h.bootID, h.opts.RebootTimeout, h.opts.Poll); err != nil {
				return "", fmt.Errorf("the host ordered a reboot of %s on boot %s (%s) but did not come back with a new boot: %w", family.Describe(rec.Deployment), record.Short(h.bootID), rb, err)
			}
		}
		h.bootID, h.record, h.upAt = id, nil, time.Now().UTC()
		if rec, rebooted, err = h.rejectedRecord(ctx, bound); err != nil {
			return "", fmt.Errorf("after the host's own reboot (%s): %w", rb, err)
		}
	}
	r := &report.HostRollbackReport{FailedBootID: h.bootID, FailedRecord: rec, Reason: healthReason(rec), From: rec.Deployment, Reboots: reboots}
	sr.HostRollback = r
	if data, err := json.MarshalIndent(rec, "", "  "); err == nil {
		h.save(sr, "record-rejected-boot.json", append(data, '\n'))
	}
	switch hl := rec.Health; {
	case rec.Summary.OK:
		return "", fmt.Errorf("the host did not reject %s: the self-test of boot %s passed", family.Describe(r.From), record.Short(h.bootID))
	case hl == nil:
		return "", fmt.Errorf("the self-test of boot %s failed (%s) but its record has no health action: the host's self-test does not roll back ([health] on_failure)", record.Short(h.bootID), r.Reason)
	case hl.Action != record.HealthRollback:
		msg := fmt.Sprintf("the self-test of boot %s failed (%s) and the host's health action is %q, not a rollback", record.Short(h.bootID), r.Reason, hl.Action)
		if hl.Reason != "" {
			msg += ": " + hl.Reason
		}
		if hl.Error != "" {
			msg += ": " + hl.Error
		}
		return "", fmt.Errorf("%s", msg)
	}
	// The host's own reboot: a new boot id, then that boot's record.
	id := rebooted
	if id == "" {
		if id, err = WaitUp(ctx, h.m, h.bootID, h.opts.RebootTimeout, h.opts.Poll); err != nil {
			return "", fmt.Errorf("the host ordered a rollback on boot %s but did not come back with a new boot: %w", record.Short(h.bootID), err)
		}
	}
	h.bootID, h.record, h.upAt = id, nil, time.Now().UTC()
	next, err := h.waitSelftest(ctx, bound)
	if err != nil {
		return "", err
	}
	h.gotRecord(ctx, sr, next)
	r.RecoverSec = time.Since(found).Seconds()
	// collect judges the host back on what it booted before the step.
	if sr.Before != nil {
		h.expected = &record.Expectation{Checksum: sr.Before.Checksum, Version: sr.Before.Version}
		sr.Expected = h.expected
	}
	return fmt.Sprintf("boot %s rejected %s (%s)%s; the host rolled back and rebooted by itself: boot %s, run record %s; %s",
		record.Short(r.FailedBootID), family.Describe(r.From), r.Reason, rebootsText(r.Reboots), record.Short(id), next.ID, sr.Timing), nil
}

// maxHostReboots bounds how many of the host's own reboots of one
// deployment the driver follows: [health] reboot_attempts is at most 10.
const maxHostReboots = 10

// rebootsText is ", after N reboot(s) of its own (boot …, …)" for a step
// whose host retried the deployment before it rolled back, else "".
func rebootsText(rs []report.HostReboot) string {
	if len(rs) == 0 {
		return ""
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return fmt.Sprintf(", after %d reboot(s) of the same deployment by the host (%s)", len(rs), strings.Join(parts, "; "))
}

// sameDeployment is whether a and b are one deployment (checksum and
// serial).
func sameDeployment(a, b *record.Deployment) bool {
	return a != nil && b != nil && a.Checksum == b.Checksum && a.Serial == b.Serial
}

// rejectedRecord is the run record of the boot that is to reject the
// deployment. The host may reboot right after saving it, before the
// driver has read it: then the driver waits for the next boot and reads
// the record from the results directory, where it stays; rebooted is
// that next boot's id.
func (h *hostRun) rejectedRecord(ctx context.Context, bound time.Duration) (rec *record.Record, rebooted string, err error) {
	rec, err = h.waitSelftest(ctx, bound)
	if err == nil || ctx.Err() != nil || !(errors.Is(err, transport.ErrConnection) || errors.Is(err, ErrUnreachable)) {
		return rec, "", err
	}
	failed := h.bootID
	if rebooted, err = WaitUp(ctx, h.m, failed, h.opts.RebootTimeout, h.opts.Poll); err != nil {
		return nil, "", fmt.Errorf("the host went away during boot %s and did not come back with a new boot: %w", record.Short(failed), err)
	}
	rec, err = h.records.poll(ctx, h.bootID, time.Minute, "atomic-selftest.service", func(r *record.Record) bool { return record.JudgesBoot(r.Trigger) })
	if err != nil {
		return nil, "", fmt.Errorf("the host rebooted by itself (boot %s) and left no run record of boot %s: %w", record.Short(rebooted), record.Short(failed), err)
	}
	return rec, rebooted, nil
}

// judgeHostRollback is collect's part for such a step: the next boot's
// record must say that atomic-selftest rolled back, ordered by the
// failing boot's record.
func judgeHostRollback(sr *report.StepReport, rec *record.Record) error {
	r := sr.HostRollback
	t := rec.Transition
	if t == nil || t.Kind != record.TransitionRollback || t.By != record.TransitionByAtomicSelftest {
		return fmt.Errorf("the host came back on %s, but its run record does not name a rollback by atomic-selftest (transition %+v)", family.Describe(sr.After), t)
	}
	if t.ActionRecord != "" && t.ActionRecord != r.FailedRecord.ID {
		return fmt.Errorf("the rollback was ordered by run record %s, not by the failing boot's %s", t.ActionRecord, r.FailedRecord.ID)
	}
	return nil
}

// healthReason is the failing checks of a record with their messages,
// from its health action when it has one.
func healthReason(rec *record.Record) string {
	var out []string
	if rec.Health != nil {
		for _, f := range rec.Health.Failing {
			s := f.ID
			if f.Message != "" {
				s += ": " + f.Message
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = badChecks(rec)
	}
	return strings.Join(out, "; ")
}

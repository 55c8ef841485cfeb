package outer

// The deployment-change run (issue 16): after a deployment command and
// before the reboot, the host's atomic-selftest-deployment.path has the
// self-test judge what the reboot will boot (trigger deployment-change,
// check deployment.pending). The driver finds that run record, attaches
// it to the step, and a pending deployment the host finds broken fails the
// step before anyone reboots into it.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

const (
	// deploymentWatch is the host's path unit that starts the
	// deployment-change run.
	deploymentWatch = "atomic-selftest-deployment.path"
	// watchedDir is what it watches: libostree bumps its mtime at the
	// end of every write of the deployment list and after staging.
	watchedDir = "/sysroot/ostree/deploy"
	// pendingCheck is the check that names and verifies the pending
	// deployment.
	pendingCheck = "deployment.pending"
)

// deployChange is the last deployment command of the current boot whose
// deployment-change run the driver has not seen yet.
type deployChange struct {
	argv string
	boot string    // the boot the command ran on: its deployment-change run is of this boot
	end  time.Time // the driver's clock when the command returned
	// lastWrite is the host's mtime of watchedDir then (the host's
	// clock, as the record's start is).
	lastWrite time.Time
}

// noteChange remembers a deployment command that just returned, with
// ostree's last write by the host's clock. A host without the watched
// directory has nothing to wait for.
func (h *hostRun) noteChange(ctx context.Context, argv []string) {
	h.change = nil
	end := time.Now()
	lastWrite, err := h.mtime(ctx, watchedDir)
	if err != nil {
		return
	}
	// A plan may run a deployment command before anything has read the
	// boot id; without it no record could ever match.
	boot, err := h.currentBoot(ctx)
	if err != nil {
		return
	}
	h.change = &deployChange{argv: transport.DisplayArgv(argv), boot: boot, end: end, lastWrite: lastWrite}
}

// mtime is a host file's modification time, by the host's clock.
func (h *hostRun) mtime(ctx context.Context, path string) (time.Time, error) {
	out, err := h.run(ctx, time.Minute, "stat", "-c", "%.9Y", path)
	if err != nil {
		return time.Time{}, err
	}
	return unixTime(strings.TrimSpace(string(out))), nil
}

// unixTime parses seconds.nanoseconds (stat's %.9Y).
func unixTime(s string) time.Time {
	sec, frac, _ := strings.Cut(s, ".")
	var si, ns int64
	_, _ = fmt.Sscan(sec, &si)
	if frac != "" {
		_, _ = fmt.Sscan((frac + "000000000")[:9], &ns)
	}
	return time.Unix(si, ns)
}

// checkPending waits (bounded) for the deployment-change run record of
// this boot that began after the last deployment command's last write,
// attaches it to the step, and judges its deployment.pending against the
// step's expect_pending (a failure stops the step unless the step has
// ignore_pending). Without a deployment command since the last check it
// does nothing; a host that does not watch its deployments (no
// or an inactive atomic-selftest-deployment.path: an older self-test) is
// noted, and fails only a step that expects the host to catch a break.
func (h *hostRun) checkPending(ctx context.Context, s plan.Step, sr *report.StepReport) (string, error) {
	c := h.change
	h.change = nil
	if c == nil {
		if s.ExpectPending == plan.PendingFail {
			return "", fmt.Errorf("no deployment command before it to check")
		}
		return "no deployment command to check", nil
	}
	res, err := h.m.Run(ctx, time.Minute, "systemctl", "show", "-p", "ActiveState", "--value", deploymentWatch)
	if err != nil {
		return "", err
	}
	if st := strings.TrimSpace(string(res.Stdout)); st != "active" {
		msg := fmt.Sprintf("%s is %s on this host: no deployment-change run to check", deploymentWatch, orText(st, "missing"))
		if s.ExpectPending == plan.PendingFail {
			return "", fmt.Errorf("%s", msg)
		}
		return msg, nil
	}
	rec, err := h.records.poll(ctx, c.boot, h.opts.SelftestTimeout, "atomic-selftest-deployment.service", func(r *record.Record) bool {
		return r.Trigger == record.TriggerDeploymentChange && r.Start.After(c.lastWrite)
	})
	if err != nil {
		return "", err
	}
	p := &report.PendingReport{Command: c.argv, RecordID: rec.ID, Status: "missing", Message: "the record has no " + pendingCheck,
		WaitSec: time.Since(c.end).Seconds(), Expected: s.ExpectPending}
	for _, r := range rec.Checks {
		if r.ID == pendingCheck {
			p.Status, p.Message = string(r.Status), r.Message
		}
	}
	sr.Pending = append(sr.Pending, p)
	if data, err := json.MarshalIndent(rec, "", "  "); err == nil {
		h.save(sr, fmt.Sprintf("record-deployment-change-%d.json", len(sr.Pending)), append(data, '\n'))
	}
	failed := p.Status == string(record.StatusFail) || p.Status == string(record.StatusError)
	if s.IgnorePending && (failed || p.Status == "missing") {
		// The plan goes on anyway: the verdict stays in the report.
		p.Ignored = true
		return p.String(), nil
	}
	switch {
	case s.ExpectPending == plan.PendingFail && p.Status != string(record.StatusFail):
		return "", fmt.Errorf("the host did not catch the broken deployment before the reboot: %s %s (%s)", pendingCheck, p.Status, p.Message)
	case s.ExpectPending != plan.PendingFail && failed:
		return "", fmt.Errorf("before the reboot: %s %s: %s", pendingCheck, p.Status, p.Message)
	case s.ExpectPending != plan.PendingFail && p.Status == "missing":
		return "", fmt.Errorf("before the reboot: run record %s has no %s", rec.ID, pendingCheck)
	}
	return p.String(), nil
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

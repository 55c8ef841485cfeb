package host

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.boot",
		Criterion:   "C1",
		Required:    true,
		Description: "systemd reached its default target and no unit has failed; records how long the boot took, and on a deadline run fails naming the jobs the boot still waits for",
		Timeout:     30 * time.Second,
		Applies:     selftest.NeedSystemd,
		Run:         checkBoot,
	})
}

// checkBoot passes when the default target is active and no unit failed.
// The self-test itself runs as part of the boot's initial transaction
// (after multi-user.target), so systemd may still say "starting": the
// default target being active is what "the boot reached its target" means.
func checkBoot(ctx context.Context, t *selftest.T) {
	sd, err := t.Host.Systemd(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	m, err := sd.Manager(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	t.Detail("system_state", m.SystemState)
	target := m.DefaultTarget
	if target == "" {
		target = "multi-user.target"
	}
	u, err := sd.Unit(ctx, target)
	if err != nil {
		t.Error("%v", err)
		return
	}
	t.Evidence("default target "+target, "active", u.ActiveState)
	if u.ActiveEnterUsec > m.KernelUsec && u.ActiveEnterUsec != 0 {
		secs := float64(u.ActiveEnterUsec-m.KernelUsec) / 1e6
		t.Detail("target_reached_s", secs)
		t.Evidence("time from kernel to "+target, "", fmt.Sprintf("%.1f s", secs))
	}
	if m.Finished() {
		t.Detail("boot_finished_s", m.BootDuration().Seconds())
	}
	all, err := sd.FailedUnits(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	// The self-test's own units fail when a check fails; counting them
	// here would turn one failure into a second one on the next run.
	var failed []string
	for _, u := range all {
		if !strings.HasPrefix(u, "atomic-selftest") {
			failed = append(failed, u)
		}
	}
	t.Evidence("failed units", "none", orNone(failed))
	t.Detail("failed_units", failed)
	// What the boot still waits for: on a deadline run it is the verdict;
	// on any other run it is evidence (the boot run itself is a job of
	// the boot's transaction, and units after it may still be queued).
	jobs, jobsErr := selftest.Waiting(ctx, sd)
	var holding []string
	for _, j := range jobs {
		if !strings.HasPrefix(j.Unit, "atomic-selftest") {
			holding = append(holding, j.String())
		}
	}
	if len(jobs) > 0 {
		t.Detail("jobs", jobs)
	}
	deadline := t.Trigger == record.TriggerDeadline
	if deadline {
		t.UpdateRecord(func(rec *record.Record) {
			if rec.Deadline == nil {
				rec.Deadline = &record.Deadline{}
			}
			rec.Deadline.Jobs = jobs
		})
		t.Evidence("jobs the boot still waits for "+t.Config.Health.BootDeadline.D().String()+" after it started", "none", orNone(holding))
	}
	switch {
	case deadline && jobsErr != nil:
		t.Error("the boot missed its deadline, and systemd's jobs cannot be listed: %v", jobsErr)
	case deadline && len(holding) > 0:
		t.Fail("the boot missed its deadline (%s): %d unit(s) still starting or queued: %s",
			t.Config.Health.BootDeadline.D(), len(holding), strings.Join(holding, "; "))
	case u.ActiveState != "active":
		t.Fail("the default target %s is %s, not active (system state %s)", target, u.ActiveState, m.SystemState)
	case len(failed) > 0:
		t.Fail("%d unit(s) failed: %s", len(failed), strings.Join(failed, ", "))
	default:
		t.Pass("%s reached, no failed units (system state %s)", target, m.SystemState)
	}
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

package outer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// hostRollbackPlan: an upgrade the host must reject by itself, then a good
// upgrade.
func hostRollbackPlan(t *testing.T) *plan.Plan {
	up := func(name string, reject bool) plan.Step {
		return plan.Step{Name: name, Criterion: "C6", ExpectHostRollback: reject, Actions: []plan.Action{
			{Do: plan.ActUpgradeSource},
			{Do: plan.ActRun, Command: []string{"ostree", "admin", "upgrade"}, Changes: plan.ChangeUpgrade},
			{Do: plan.ActExpect}, {Do: plan.ActReboot}, {Do: plan.ActWaitSelftest}, {Do: plan.ActCollect},
		}}
	}
	p := &plan.Plan{Name: "reject", Family: "ostree", Steps: []plan.Step{plan.Baseline(), up("upgrade-rejected", true), up("upgrade-good", false)}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// The host rejects the upgrade by itself: the step passes with the host
// back on the previous deployment after two boots, both records saved,
// the reason in the step's message, JUnit and the criteria table; the
// following good upgrade passes.
func TestHostRollbackSim(t *testing.T) {
	for _, now := range []bool{false, true} {
		t.Run(map[bool]string{false: "after-read", true: "before-read"}[now], func(t *testing.T) { testHostRollbackSim(t, now) })
	}
}

// testHostRollbackSim: with now, the host reboots the moment it saves the
// failing boot's record, before the driver has read it.
func testHostRollbackSim(t *testing.T, now bool) {
	// The self-test runs a moment after sshd answers, as on a real host:
	// the driver sees the boot that is to reject the deployment.
	f := newSimFleet(t, 1, func(_ int, h *simHost) {
		h.RejectVersion, h.RejectRebootNow, h.SelftestDelay = "28.20180515.1.selftest.1", now, 300*time.Millisecond
	})
	opts := simOptions(t, hostRollbackPlan(t))
	rep := Run(context.Background(), simMachines(t, f), opts)
	logReport(t, rep)
	if !rep.OK {
		t.Fatal("plan failed")
	}
	hr := rep.Hosts[0]
	base, bad, good := hr.Steps[0], hr.Steps[1], hr.Steps[2]
	r := bad.HostRollback
	if r == nil || r.FailedRecord == nil || r.FailedRecord.Health == nil || r.FailedRecord.Health.Action != record.HealthRollback {
		t.Fatalf("no host rollback in %+v", bad)
	}
	// Rebooted before the driver read it: the record was read from the
	// results directory after the host's reboot.
	polled := strings.Contains(strings.Join(f.Hosts[0].Commands(), "\n"), "-name run-*-"+r.FailedBootID[:8]+".json")
	if polled != now {
		t.Errorf("the failing boot's record read from the results directory: %v, want %v", polled, now)
	}
	if r.From == nil || r.From.Version != "28.20180515.1.selftest.1" || r.Reason != "runtime.run: docker run hello: exit status 125" {
		t.Errorf("host rollback from %v reason %q", r.From, r.Reason)
	}
	if bad.After == nil || bad.After.Checksum != base.After.Checksum || bad.BootID == r.FailedBootID || bad.BootID == base.BootID {
		t.Errorf("after the step: booted %v on boot %s (failed boot %s), want %v on a third boot", bad.After, bad.BootID, r.FailedBootID, base.After)
	}
	if bad.Record.Transition == nil || bad.Record.Transition.ActionRecord != r.FailedRecord.ID {
		t.Errorf("the recovered boot's record: transition %+v", bad.Record.Transition)
	}
	if !strings.HasPrefix(bad.Message, "the host rejected ") || !strings.Contains(bad.Message, "(runtime.run: docker run hello: exit status 125) and rolled back by itself") {
		t.Errorf("message %q", bad.Message)
	}
	for _, n := range []string{"record-rejected-boot.json", "record.json"} {
		if _, err := os.Stat(filepath.Join(bad.Artifacts, n)); err != nil {
			t.Error(err)
		}
	}
	if good.After == nil || good.After.Version != "28.20180515.1.selftest.2" {
		t.Errorf("the following upgrade booted %v", good.After)
	}
	if n := f.Hosts[0].Boots(); n != 4 {
		t.Errorf("%d boots, want 4 (first, rejected, rolled back, good)", n)
	}
	var tb, ju bytes.Buffer
	if err := rep.WriteTable(&tb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tb.String(), "rolled-back") || !strings.Contains(tb.String(), "upgrade-rejected: the host rolled back by itself from ") {
		t.Errorf("criteria table:\n%s", tb.String())
	}
	if err := rep.WriteJUnit(&ju); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ju.String(), `name="host_rollback_reason" value="runtime.run: docker run hello: exit status 125"`) {
		t.Errorf("JUnit lacks the reason:\n%s", ju.String())
	}
}

// [health] reboot_attempts = 1: the host reboots the failing deployment
// once by itself, it fails again, and then it rolls back. The driver
// follows the host's own reboot: two failing records (attempt 1 of 2 with
// a reboot, 2 of 2 with the rollback), then the recovered boot's; the
// report's message, JUnit and table show the reboot.
func TestHostRollbackAfterRebootSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) {
		h.RejectVersion, h.RejectReboots, h.SelftestDelay = "28.20180515.1.selftest.1", 1, 300*time.Millisecond
	})
	p := hostRollbackPlan(t)
	p.Steps = p.Steps[:2]
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, p))
	logReport(t, rep)
	if !rep.OK {
		t.Fatal("plan failed")
	}
	base, bad := rep.Hosts[0].Steps[0], rep.Hosts[0].Steps[1]
	r := bad.HostRollback
	if r == nil || len(r.Reboots) != 1 || r.FailedRecord == nil || r.FailedRecord.Health == nil {
		t.Fatalf("host rollback %+v, want one reboot before the rollback", r)
	}
	rb := r.Reboots[0]
	if h := rb.Record.Health; h == nil || h.Action != record.HealthReboot || h.Attempt != 1 || h.MaxAttempts != 2 || rb.BootID != rb.Record.BootID {
		t.Errorf("the first failing boot's record %+v, want a reboot, attempt 1 of 2", rb.Record.Health)
	}
	if h := r.FailedRecord.Health; h.Action != record.HealthRollback || h.Attempt != 2 || h.MaxAttempts != 2 {
		t.Errorf("the second failing boot's health %+v, want a rollback, attempt 2 of 2", h)
	}
	ids := []string{base.BootID, rb.BootID, r.FailedBootID, bad.BootID}
	for i := range ids {
		for j := range i {
			if ids[i] == ids[j] {
				t.Errorf("boots %v: want four distinct boot ids", ids)
			}
		}
	}
	if bad.After == nil || bad.After.Checksum != base.After.Checksum || bad.Record.Transition == nil || bad.Record.Transition.ActionRecord != r.FailedRecord.ID {
		t.Errorf("after the step: booted %v, transition %+v; want %v rolled back to by %s", bad.After, bad.Record.Transition, base.After, r.FailedRecord.ID)
	}
	want := "after 1 reboot(s) of the same deployment by the host (boot " + record.Short(rb.BootID) + " (attempt 1 of 2) run record " + rb.Record.ID + ") and rolled back by itself"
	if !strings.Contains(bad.Message, want) {
		t.Errorf("message %q lacks %q", bad.Message, want)
	}
	if _, err := os.Stat(filepath.Join(bad.Artifacts, "record-rebooted-boot-1.json")); err != nil {
		t.Error(err)
	}
	if n := f.Hosts[0].Boots(); n != 4 {
		t.Errorf("%d boots, want 4 (first, failed, failed again, rolled back)", n)
	}
	var tb, ju bytes.Buffer
	if err := rep.WriteTable(&tb); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJUnit(&ju); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tb.String(), "upgrade-rejected: the host rolled back by itself after 1 reboot(s) of its own from ") {
		t.Errorf("criteria table:\n%s", tb.String())
	}
	if !strings.Contains(ju.String(), `name="host_reboot" value="boot `+record.Short(rb.BootID)+` (attempt 1 of 2)`) {
		t.Errorf("JUnit lacks the reboot:\n%s", ju.String())
	}
}

// A boot that hangs before its self-test (issue 31): the host's deadline
// run rejects it; the driver takes that record (trigger deadline) as the
// failing boot's verdict and names host.boot's reason.
func TestHostRollbackByDeadlineSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) {
		h.RejectVersion, h.RejectByDeadline, h.SelftestDelay = "28.20180515.1.selftest.1", true, 300*time.Millisecond
	})
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, hostRollbackPlan(t)))
	logReport(t, rep)
	if !rep.OK {
		t.Fatal("plan failed")
	}
	bad := rep.Hosts[0].Steps[1]
	r := bad.HostRollback
	if r == nil || r.FailedRecord == nil || r.FailedRecord.Trigger != record.TriggerDeadline || r.FailedRecord.Deadline == nil ||
		!strings.HasPrefix(r.Reason, "host.boot: the boot missed its deadline (3m0s)") || !strings.Contains(bad.Message, "hang.service start running") {
		t.Fatalf("host rollback %+v, message %q: want the deadline run's record and host.boot's reason", r, bad.Message)
	}
	if bad.Record == nil || bad.Record.Trigger != record.TriggerBoot || bad.Record.Transition == nil || bad.Record.Transition.ActionRecord != r.FailedRecord.ID {
		t.Errorf("the recovered boot's record %+v", bad.Record)
	}
}

// A host that does not reject it, or orders a rollback and never comes
// back, fails the step with the reason.
func TestHostRollbackSimFailures(t *testing.T) {
	for name, c := range map[string]struct {
		tweak func(h *simHost)
		want  string
	}{
		"accepts": {func(h *simHost) {}, "wait-selftest: the host did not reject "},
		"no reboot": {func(h *simHost) { h.RejectVersion, h.RejectNoReboot = "28.20180515.1.selftest.1", true },
			"but did not come back with a new boot"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newSimFleet(t, 1, func(_ int, h *simHost) { c.tweak(h) })
			p := hostRollbackPlan(t)
			p.Steps = p.Steps[:2]
			opts := simOptions(t, p)
			rep := Run(context.Background(), simMachines(t, f), opts)
			s := rep.Hosts[0].Steps[1]
			if (s.Status != report.StepFail && s.Status != report.StepError) || !strings.Contains(s.Message, c.want) {
				t.Errorf("step %s %q, want fail with %q", s.Status, s.Message, c.want)
			}
		})
	}
}

// A plan whose first step is the upgrade the host rejects (no baseline
// before it, as in a plan run against a host already up) still judges
// the host back on what it booted before the step.
func TestHostRollbackFirstStepSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) {
		h.RejectVersion, h.SelftestDelay = "28.20180515.1.selftest.1", 300*time.Millisecond
	})
	p := hostRollbackPlan(t)
	p.Steps = p.Steps[1:2]
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, p))
	logReport(t, rep)
	s := rep.Hosts[0].Steps[0]
	if !rep.OK || s.HostRollback == nil || s.Before == nil || s.After == nil || s.After.Checksum != s.Before.Checksum {
		t.Fatalf("step %s %s %q: before %v after %v", s.Name, s.Status, s.Message, s.Before, s.After)
	}
}

package outer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
)

// With the host's deployment watch, every step that changes the
// deployments has the host's deployment-change record in its report before
// its reboot, naming what the reboot boots; the record is saved.
func TestPendingBeforeRebootSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.DeploymentWatch = true })
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, plan.Ostree()))
	logReport(t, rep)
	if !rep.OK {
		t.Fatal("ostree plan failed")
	}
	for _, s := range rep.Hosts[0].Steps {
		if !rebooted(s) {
			if len(s.Pending) != 0 {
				t.Errorf("baseline has deployment-change records %+v", s.Pending)
			}
			continue
		}
		if len(s.Pending) != 1 {
			t.Fatalf("step %s: %d deployment-change records, want 1", s.Name, len(s.Pending))
		}
		p := s.Pending[0]
		if p.Status != "pass" || !strings.Contains(p.Message, " pending (the new default)") || p.RecordID == "" {
			t.Errorf("step %s: %+v", s.Name, p)
		}
		// The check ran as an action of its own, before the reboot.
		var acts []string
		for _, a := range s.Actions {
			acts = append(acts, a.Do)
		}
		if got := strings.Join(acts, " "); !strings.Contains(got, "check-pending reboot") {
			t.Errorf("step %s: actions %s, want check-pending right before the reboot", s.Name, got)
		}
		if !strings.HasPrefix(p.String(), "before the reboot: deploy to ") || !strings.Contains(p.String(), "deployment.pending pass") {
			t.Errorf("step %s: line %q", s.Name, p.String())
		}
		if _, err := os.Stat(filepath.Join(s.Artifacts, "record-deployment-change-1.json")); err != nil {
			t.Error(err)
		}
	}
}

// A plan whose first step is a deployment command (no baseline, nothing
// has read the boot id yet) still finds the deployment-change record of
// the boot the command ran on (it used to wait out the whole bound).
func TestPendingFirstStepSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.DeploymentWatch = true })
	p := plan.Ostree()
	p.Steps = p.Steps[1:2]
	opts := simOptions(t, p)
	opts.SelftestTimeout = time.Minute
	rep := Run(context.Background(), simMachines(t, f), opts)
	logReport(t, rep)
	s := rep.Hosts[0].Steps[0]
	if !rep.OK || len(s.Pending) != 1 || s.Pending[0].Status != "pass" {
		t.Fatalf("step %s %s %q, pending %+v", s.Name, s.Status, s.Message, s.Pending)
	}
}

// A pending deployment the host finds broken fails the step before the
// reboot, with the host's message, and the host is not rebooted.
func TestPendingBrokenSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.DeploymentWatch, h.PendingBroken = true, true })
	p := plan.Ostree()
	p.Steps = p.Steps[:2]
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, p))
	logReport(t, rep)
	s := rep.Hosts[0].Steps[1]
	if s.Status != report.StepFail || !strings.HasPrefix(s.Message, "check-pending: before the reboot: deployment.pending fail: ") ||
		!strings.Contains(s.Message, "missing /boot/ostree/sim-0/initramfs.img") {
		t.Errorf("step %s %s %q", s.Name, s.Status, s.Message)
	}
	if n := f.Hosts[0].Boots(); n != 1 {
		t.Errorf("%d boots, want 1: the host must not be rebooted into a broken deployment", n)
	}
}

// A step that breaks the pending deployment on purpose (expect_pending =
// "fail") passes when the host catches it, undeploys it and does not
// reboot; it fails when the host does not catch it.
func TestPendingExpectFailSim(t *testing.T) {
	mkPlan := func() *plan.Plan {
		p := &plan.Plan{Name: "caught", Family: "ostree", UpgradeRef: "atomic-selftest/upgrade", Steps: []plan.Step{plan.Baseline(), {
			Name: "broken-kernel-caught", Criterion: "C3", ExpectPending: plan.PendingFail,
			Actions: []plan.Action{
				{Do: plan.ActUpgradeSource},
				{Do: plan.ActRun, Command: []string{"ostree", "admin", "upgrade"}, Changes: plan.ChangeUpgrade},
				{Do: plan.ActRun, Command: []string{"touch", "/sysroot/ostree/deploy"}, DeploymentChange: true},
				{Do: plan.ActCheckPending},
				{Do: plan.ActRun, Command: []string{"ostree", "admin", "undeploy", "0"}},
			}}}}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, broken := range []bool{true, false} {
		f := newSimFleet(t, 1, func(_ int, h *simHost) { h.DeploymentWatch, h.PendingBroken = true, broken })
		rep := Run(context.Background(), simMachines(t, f), simOptions(t, mkPlan()))
		logReport(t, rep)
		s := rep.Hosts[0].Steps[1]
		if broken {
			if s.Status != report.StepPass || len(s.Pending) != 1 || !strings.HasPrefix(s.Actions[3].Message, "caught before the reboot: deploy to ") {
				t.Errorf("caught: step %s %q, actions %+v", s.Status, s.Message, s.Actions)
			}
		} else if s.Status != report.StepFail || !strings.Contains(s.Message, "the host did not catch the broken deployment before the reboot: deployment.pending pass") {
			t.Errorf("not caught: step %s %q", s.Status, s.Message)
		}
		if n := f.Hosts[0].Boots(); n != 1 {
			t.Errorf("%d boots, want 1", n)
		}
	}
}

// A host without the deployment watch (an older self-test) is driven as
// before: the check notes it and the step passes.
func TestPendingNoWatchSim(t *testing.T) {
	f := newSimFleet(t, 1, nil)
	p := plan.Ostree()
	p.Steps = p.Steps[:2]
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, p))
	if !rep.OK {
		logReport(t, rep)
		t.Fatal("failed")
	}
	s := rep.Hosts[0].Steps[1]
	for _, a := range s.Actions {
		if a.Do == plan.ActCheckPending && a.Message != "atomic-selftest-deployment.path is inactive on this host: no deployment-change run to check" {
			t.Errorf("check-pending: %q", a.Message)
		}
	}
}

// ignore_pending: the plan goes on anyway. The host's failing verdict is
// in the step's report, the step reboots into the deployment the host
// judged broken, and the same plan without the key stops before it.
func TestPendingIgnoreSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.DeploymentWatch, h.PendingBroken = true, true })
	p := plan.Ostree()
	p.Steps = p.Steps[:2]
	p.Steps[1].IgnorePending = true
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, p))
	logReport(t, rep)
	s := rep.Hosts[0].Steps[1]
	if len(s.Pending) != 1 || !s.Pending[0].Ignored || s.Pending[0].Status != "fail" {
		t.Fatalf("step %s: pending %+v, want one ignored failure", s.Name, s.Pending)
	}
	if line := s.Pending[0].String(); !strings.HasPrefix(line, "went on despite it (ignore_pending), before the reboot: ") ||
		!strings.Contains(line, "missing /boot/ostree/sim-0/initramfs.img") || !strings.Contains(line, "deployment.pending fail") {
		t.Errorf("line %q", line)
	}
	if strings.HasPrefix(s.Message, "check-pending") {
		t.Errorf("step failed at check-pending: %q", s.Message)
	}
	if n := f.Hosts[0].Boots(); n != 2 {
		t.Errorf("%d boots, want 2: ignore_pending reboots into the deployment anyway", n)
	}
}

package qemu

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// hangRef is the ref of build.sh's commit 12.5, whose boot hangs before
// multi-user.target (testbed-hang.service), and hangUnit that unit.
const (
	hangRef  = "atomic-selftest-testbed/hang"
	hangUnit = "testbed-hang.service"
)

// deadlineRollbackOnTestbed is issue 31 on the VM: the host deploys 12.5,
// whose boot never reaches multi-user.target, so its boot run never
// starts; 3 minutes after the boot (12.5's [health] boot_deadline) the
// deadline run judges it, host.boot fails naming testbed-hang.service,
// the [health] policy rolls back and the host reboots by itself into the
// deployment it ran before. The driver (outer/testbed/deadline-hang.toml,
// expect_host_rollback) sees the deadline run's record as the failing
// boot's verdict, the rollback and its reason. About 6 minutes under TCG:
// deploy and the deployment-change run, the hung boot (3 min to the
// deadline, the run, the rollback), the next boot and its run.
// TestCycleTestbed defers it, so it runs after every other step of the
// cycle (before a deferred upgrade source, which drops the rollback
// deployment anyway): afterwards the rollback deployment is 12.5, which
// no other step may boot. Its rollback target is whatever the cycle
// booted last; the assertions do not depend on which.
func deadlineRollbackOnTestbed(t *testing.T, m *Machine, health bool) {
	t.Helper()
	if !health {
		return // the deadline acts through [health]: build.sh --health
	}
	ctx := context.Background()
	res, err := m.Run(ctx, time.Minute, "ostree", "rev-parse", "--repo=/ostree/repo", hangRef)
	if err != nil {
		t.Errorf("the image has no %s (build.sh's commit 12.5): %v (%s)", hangRef, err, res.Stderr)
		return
	}
	hang := strings.TrimSpace(string(res.Stdout))
	before, err := m.Run(ctx, time.Minute, "cat", "/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Errorf("boot id: %v", err)
		return
	}
	start := time.Now()
	rep := drive(t, m, "deadline-hang.toml", 0)
	steps := rep.Hosts[0].Steps
	if !rep.OK || len(steps) != 1 {
		t.Errorf("the deadline rollback failed after %s; see the table above", time.Since(start).Round(time.Second))
		hostState(ctx, t, m)
		return
	}
	s := steps[0]
	r := s.HostRollback
	if r == nil || r.FailedRecord == nil {
		t.Errorf("step %s: no host rollback %+v", s.Name, r)
		return
	}
	f := r.FailedRecord
	// The failing boot's verdict is the deadline run's record: the boot
	// run never started.
	if f.Trigger != record.TriggerDeadline || f.Deadline == nil || f.Deadline.Bound != "3m0s" ||
		f.Deadline.UptimeSec < 180 || f.Deadline.UptimeSec > 300 {
		t.Errorf("step %s: the rejected boot's record has trigger %s and deadline %+v, want a deadline run at 3 min", s.Name, f.Trigger, f.Deadline)
	}
	if f.BootID == strings.ReplaceAll(strings.TrimSpace(string(before.Stdout)), "-", "") || f.BootID != r.FailedBootID {
		t.Errorf("step %s: the deadline record is of boot %s, the rejected boot is %s", s.Name, f.BootID, r.FailedBootID)
	}
	// What it waited for: the hung unit, running, and the boot run
	// waiting behind multi-user.target.
	var hung, selftestWaiting bool
	if f.Deadline != nil {
		for _, j := range f.Deadline.Jobs {
			// How long it has run depends on how slowly TCG got it
			// started; that it is still running at the deadline is the point.
			hung = hung || (j.Unit == hangUnit && j.Type == "start" && j.State == "running" && j.ForSec > 0)
			selftestWaiting = selftestWaiting || (j.Unit == "atomic-selftest.service" && j.State == "waiting")
		}
	}
	if !hung || !selftestWaiting {
		t.Errorf("step %s: the deadline record's jobs %+v, want %s start running and atomic-selftest.service waiting", s.Name, f.Deadline, hangUnit)
	}
	var boot *record.Result
	for i := range f.Checks {
		if f.Checks[i].ID == "host.boot" {
			boot = &f.Checks[i]
		}
	}
	if boot == nil || boot.Status != record.StatusFail || !strings.HasPrefix(boot.Message, "the boot missed its deadline (3m0s): ") ||
		!strings.Contains(boot.Message, hangUnit+" start running for ") {
		t.Errorf("step %s: host.boot %+v, want a failure naming %s", s.Name, boot, hangUnit)
	}
	// The rollback, its reason, and the boot that came back.
	if h := f.Health; h == nil || h.Action != record.HealthRollback || r.From == nil || r.From.Checksum != hang ||
		!strings.Contains(r.Reason, "host.boot") || !strings.Contains(r.Reason, hangUnit) {
		t.Errorf("step %s: health %+v from %v reason %q, want a rollback from %s naming host.boot and %s", s.Name, f.Health, r.From, r.Reason, hang, hangUnit)
	}
	if s.Before == nil || s.After == nil || s.After.Checksum != s.Before.Checksum {
		t.Errorf("step %s: booted %v before and %v after, want the host back on what it ran before", s.Name, s.Before, s.After)
	}
	if s.Record == nil || s.Record.Trigger != record.TriggerBoot || s.Record.Transition == nil ||
		s.Record.Transition.By != record.TransitionByAtomicSelftest || s.Record.Transition.ActionRecord != f.ID {
		t.Errorf("step %s: the recovered boot's record %+v, want its boot run naming the rollback ordered by %s", s.Name, s.Record, f.ID)
	}
	if !strings.Contains(s.Message, hangUnit) {
		t.Errorf("step %s: message %q lacks the hung unit", s.Name, s.Message)
	}
	if _, err := os.Stat(filepath.Join(s.Artifacts, "record-rejected-boot.json")); err != nil {
		t.Errorf("step %s: %v", s.Name, err)
	}
	// The login banner of the recovered boot names the rollback and,
	// through host.boot's message, the unit the boot waited for.
	motd, err := m.ReadFile(ctx, "/run/motd.d/atomic-selftest", 64<<10)
	if err != nil || !strings.Contains(string(motd), "rolled back from 12.5") || !strings.Contains(string(motd), hangUnit) {
		t.Errorf("motd after the deadline rollback (%v):\n%s", err, motd)
	}
	t.Logf("deadline rollback: %s from the deploy to the recovered boot's record", time.Since(start).Round(time.Second))
}

// The plan of the deadline step loads and is valid without a VM.
func TestDeadlinePlanLoads(t *testing.T) {
	plan, err := outer.LoadPlan(filepath.Join("..", "testbed", "deadline-hang.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Steps) != 1 || !plan.Steps[0].ExpectHostRollback || !strings.Contains(strings.Join(plan.Steps[0].Actions[0].Command, " "), hangRef) {
		t.Errorf("plan %+v: want one step deploying %s that expects the host's rollback", plan, hangRef)
	}
}

// hostState logs what the host's self-test units and job queue look like,
// for a step that failed: the unit states, their journal, the records.
func hostState(ctx context.Context, t *testing.T, m *Machine) {
	t.Helper()
	for _, argv := range [][]string{
		{"systemctl", "list-jobs", "--no-pager"},
		{"systemctl", "status", "--no-pager", "--lines=0", "atomic-selftest.service", "atomic-selftest-deployment.path", "atomic-selftest-deployment.service", "atomic-selftest-deadline.timer", "atomic-selftest-deadline.service"},
		{"journalctl", "-b", "--no-pager", "-n", "80", "-u", "atomic-selftest*"},
		{"ls", "-la", "--time-style=full-iso", "/var/lib/atomic-selftest", "/run/atomic-selftest", "/sysroot/ostree/deploy"},
		{"ostree", "admin", "status"},
	} {
		res, err := m.Run(ctx, time.Minute, argv...)
		t.Logf("$ %s (%v)\n%s%s", strings.Join(argv, " "), err, res.Stdout, res.Stderr)
	}
}

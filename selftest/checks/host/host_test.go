package host

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// runOne runs a registered check with its applicability test removed, so
// a host whose PID 1 is not systemd can still exercise the D-Bus path
// against a fake systemd on a private bus.
func runOne(t *testing.T, id string, h *selftest.RunContext) record.Result {
	t.Helper()
	c := checktest.Registered(t, id)
	c.Applies = nil
	c.Depends = nil
	defer h.Close()
	return checktest.One(t, h, c)
}

func TestBootPassesAndRecordsTimes(t *testing.T) {
	// Our own failed unit is ignored: it fails whenever a check fails.
	testutil.FakeSystemd(t, []string{"atomic-selftest.service"}, testutil.FakeUnits())
	r := runOne(t, "host.boot", selftest.NewRunContext(selftest.NewHost("/"), nil))
	if r.Status != record.StatusPass {
		t.Fatalf("%s %q %+v", r.Status, r.Message, r.Evidence)
	}
	if r.Details["target_reached_s"] != 20.0 || r.Details["boot_finished_s"] != 21.0 {
		t.Errorf("boot times not recorded: %v", r.Details)
	}
}

func TestBootFailsNamingFailedUnits(t *testing.T) {
	testutil.FakeSystemd(t, []string{"docker.service", "var-lib-x.mount"}, testutil.FakeUnits())
	r := runOne(t, "host.boot", selftest.NewRunContext(selftest.NewHost("/"), nil))
	if r.Status != record.StatusFail || r.Message != "2 unit(s) failed: docker.service, var-lib-x.mount" {
		t.Fatalf("%s %q", r.Status, r.Message)
	}
}

func TestBootFailsWhenTargetNotReached(t *testing.T) {
	units := testutil.FakeUnits()
	units["multi-user.target"]["org.freedesktop.systemd1.Unit"]["ActiveState"] = "inactive"
	testutil.FakeSystemd(t, nil, units)
	r := runOne(t, "host.boot", selftest.NewRunContext(selftest.NewHost("/"), nil))
	if r.Status != record.StatusFail || !strings.Contains(r.Message, "multi-user.target is inactive") {
		t.Fatalf("%s %q", r.Status, r.Message)
	}
}

func TestBootSkipsWithoutSystemd(t *testing.T) {
	h := selftest.NewRunContext(selftest.NewHost(t.TempDir()), nil)
	if why := selftest.NeedSystemd(context.Background(), h); why == "" {
		t.Fatal("an offline root must not count as systemd-booted")
	}
}

func TestVarOnTmpfsFails(t *testing.T) {
	testutil.NeedRoot(t)
	root := t.TempDir()
	// A live host rooted elsewhere: the check writes under root/var.
	live := func() *selftest.RunContext {
		h := selftest.NewRunContext(selftest.NewHost(root), nil)
		h.Offline = false
		return h
	}
	r := runOne(t, "host.var", live())
	if r.Status != record.StatusPass {
		t.Fatalf("plain directory: %s %q", r.Status, r.Message)
	}
	// Make the root's /var a tmpfs: nothing there would survive a reboot.
	mountTmpfs(t, root+"/var")
	r = runOne(t, "host.var", live())
	if r.Status != record.StatusFail || !strings.Contains(r.Message, "/var is on tmpfs") {
		t.Fatalf("tmpfs /var: %s %q", r.Status, r.Message)
	}
}

// A deadline run (issue 31) on a boot stuck behind cloud-final.service:
// host.boot fails naming the running job and how long, puts the job list
// into the record's deadline, and leaves the boot run's own waiting job
// out of the message. The same host judged by a manual run only records
// the jobs as a detail.
func TestBootDeadlineNamesWhatTheBootWaitsFor(t *testing.T) {
	sd := checktest.NewSystemd(map[string]selftest.UnitState{
		"multi-user.target": {LoadState: "loaded", ActiveState: "inactive", SubState: "dead"},
	})
	sd.State = record.ManagerState{SystemState: "starting", DefaultTarget: "multi-user.target"}
	sd.SetJobs([]record.Job{
		{ID: 140, Unit: "atomic-selftest.service", Type: "start", State: "waiting", ForSec: 600, After: []string{"multi-user.target", "cloud-final.service"}},
		{ID: 97, Unit: "cloud-final.service", Type: "start", State: "running", ForSec: 583.4, After: []string{"network-online.target"}},
		{ID: 2, Unit: "multi-user.target", Type: "start", State: "waiting", ForSec: 600, After: []string{"basic.target", "cloud-final.service"}},
	})
	rc := selftest.NewRunContext(selftest.NewHost("/"), nil)
	rc.Offline = false
	rc.NewSystemd = sd.Open
	rc.Trigger = record.TriggerDeadline
	rec := checktest.Run(rc, checktest.Registered(t, "host.boot"))
	r := rec.Checks[0]
	checktest.Expect(t, r, record.StatusFail, "the boot missed its deadline (10m0s): 2 unit(s) still starting or queued: ",
		"cloud-final.service start running for 9m43s", "multi-user.target start waiting for 10m0s (after cloud-final.service)")
	if strings.Contains(r.Message, "atomic-selftest.service") {
		t.Errorf("message %q names the boot run's own job", r.Message)
	}
	if rec.Deadline == nil || len(rec.Deadline.Jobs) != 3 || rec.Deadline.Jobs[0].Unit != "cloud-final.service" ||
		!slices.Equal(rec.Deadline.Jobs[2].WaitingFor, []string{"multi-user.target", "cloud-final.service"}) {
		t.Errorf("record deadline %+v, want the three jobs, the boot run's last, waiting for its two", rec.Deadline)
	}

	rc.Trigger = record.TriggerManual
	rec = checktest.Run(rc, checktest.Registered(t, "host.boot"))
	checktest.Expect(t, rec.Checks[0], record.StatusFail, "the default target multi-user.target is inactive")
	if rec.Deadline != nil || rec.Checks[0].Details["jobs"] == nil {
		t.Errorf("manual run: deadline %+v, details %v; want no deadline and the jobs as a detail", rec.Deadline, rec.Checks[0].Details)
	}

	// Nothing left to wait for: a deadline run judges the boot as usual.
	sd.SetJobs(nil)
	sd.Set("multi-user.target", selftest.UnitState{LoadState: "loaded", ActiveState: "active"})
	rc.Trigger = record.TriggerDeadline
	rec = checktest.Run(rc, checktest.Registered(t, "host.boot"))
	checktest.Expect(t, rec.Checks[0], record.StatusPass, "multi-user.target reached")
}

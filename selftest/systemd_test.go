package selftest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

func TestDBusSystemdAgainstPrivateBus(t *testing.T) {
	testutil.FakeSystemd(t, []string{"zz.service", "broken.mount"}, testutil.FakeUnits())
	ctx, sd := openTestSystemd(t)
	u, err := sd.Unit(ctx, "docker.service")
	if err != nil {
		t.Fatal(err)
	}
	want := UnitState{Name: "docker.service", LoadState: "loaded", ActiveState: "active", SubState: "running",
		Result: "success", NRestarts: 2, ActiveEnter: time.UnixMicro(1_700_000_000_000_000).UTC(), ActiveEnterUsec: 15_000_000,
		UnitFileState: "enabled", InactiveExitUsec: 14_000_000}
	if u != want {
		t.Errorf("Unit = %+v\nwant   %+v", u, want)
	}
	failed, err := sd.FailedUnits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 2 || failed[0] != "broken.mount" || failed[1] != "zz.service" {
		t.Errorf("FailedUnits = %v, want sorted [broken.mount zz.service]", failed)
	}
	// ListUnits over D-Bus: the failed units and the known ones, sorted,
	// states only.
	all, err := sd.ListUnits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range all {
		names = append(names, u.Name+"="+u.ActiveState+"/"+u.SubState)
	}
	if got := strings.Join(names, " "); got != "broken.mount=failed/failed docker.service=active/running multi-user.target=active/active zz.service=failed/failed" {
		t.Errorf("ListUnits = %s", got)
	}
	m, err := sd.Manager(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.SystemState != "running" || m.DefaultTarget != "multi-user.target" || m.Virtualization != "kvm" || m.BootDuration() != 21*time.Second {
		t.Errorf("Manager = %+v (boot %s)", m, m.BootDuration())
	}
}

// A boot stuck behind cloud-final.service, as `systemctl list-jobs` showed
// it on the test VM (issue 31): ListJobs over D-Bus gives each job, the
// unit's After= and InactiveExitTimestampMonotonic give what it waits for
// and how long; Waiting puts other units' jobs before atomic-selftest's.
func TestDBusSystemdJobs(t *testing.T) {
	units := testutil.FakeUnits()
	now := monotonicUsec()
	units["cloud-final.service"] = map[string]map[string]any{"org.freedesktop.systemd1.Unit": {
		"LoadState": "loaded", "ActiveState": "activating", "SubState": "start",
		"After":                          []string{"network-online.target", "cloud-config.service"},
		"InactiveExitTimestampMonotonic": now - 120_000_000,
	}}
	units["atomic-selftest.service"] = map[string]map[string]any{"org.freedesktop.systemd1.Unit": {
		"LoadState": "loaded", "ActiveState": "inactive", "SubState": "dead",
		"After":                          []string{"multi-user.target", "cloud-final.service", "docker.service"},
		"InactiveExitTimestampMonotonic": uint64(0),
	}}
	testutil.FakeSystemdJobs(t, nil, units, []testutil.FakeJob{
		{ID: 140, Unit: "atomic-selftest.service", Type: "start", State: "waiting"},
		{ID: 97, Unit: "cloud-final.service", Type: "start", State: "running"},
	})
	ctx, sd := openTestSystemd(t)
	jobs, err := Waiting(ctx, sd)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 {
		t.Fatalf("Waiting = %+v, want two jobs", jobs)
	}
	cf, self := jobs[0], jobs[1]
	if cf.ID != 97 || cf.Unit != "cloud-final.service" || cf.Type != "start" || cf.State != "running" ||
		cf.ForSec < 120 || cf.ForSec > 180 || len(cf.After) != 2 || len(cf.WaitingFor) != 0 {
		t.Errorf("cloud-final's job = %+v, want running for about 120 s after its two units, waiting for none", cf)
	}
	if self.Unit != "atomic-selftest.service" || self.State != "waiting" || len(self.WaitingFor) != 1 || self.WaitingFor[0] != "cloud-final.service" {
		t.Errorf("the boot run's job = %+v, want waiting for cloud-final.service", self)
	}
	if got := cf.String(); got != "cloud-final.service start running for "+(time.Duration(cf.ForSec)*time.Second).String() {
		t.Errorf("String = %q", got)
	}
	if got := self.String(); !strings.HasSuffix(got, " (after cloud-final.service)") {
		t.Errorf("String = %q, want what it waits for", got)
	}
}

// openTestSystemd connects the D-Bus probe to the fake systemd the test
// started, for at most 10 s.
func openTestSystemd(t *testing.T) (context.Context, Systemd) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	sd, err := openDBusSystemd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sd.Close)
	return ctx, sd
}

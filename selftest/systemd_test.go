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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sd, err := openDBusSystemd(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
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

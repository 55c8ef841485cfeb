package testutil

import (
	"fmt"
	"testing"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// fakeManager answers the org.freedesktop.systemd1.Manager methods the
// probe calls, with the signatures systemd documents in
// org.freedesktop.systemd1(5).
type fakeManager struct {
	failed []string
	units  map[string]map[string]map[string]any
	jobs   []FakeJob
}

// FakeJob is one job of the fake manager's ListJobs.
type FakeJob struct {
	ID                uint32
	Unit, Type, State string
}

// jobStatus is ListJobs' a(usssoo): id, unit, type, state, the job's and
// the unit's object paths.
type jobStatus struct {
	ID                uint32
	Unit, Type, State string
	JobPath, UnitPath godbus.ObjectPath
}

func (m *fakeManager) ListJobs() ([]jobStatus, *godbus.Error) {
	out := []jobStatus{}
	for _, j := range m.jobs {
		out = append(out, jobStatus{ID: j.ID, Unit: j.Unit, Type: j.Type, State: j.State,
			JobPath:  godbus.ObjectPath(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", j.ID)),
			UnitPath: godbus.ObjectPath("/org/freedesktop/systemd1/unit/" + sddbus.PathBusEscape(j.Unit))})
	}
	return out, nil
}

type unitStatus struct {
	Name, Description, LoadState, ActiveState, SubState, Followed string
	Path                                                          godbus.ObjectPath
	JobID                                                         uint32
	JobType                                                       string
	JobPath                                                       godbus.ObjectPath
}

func (m *fakeManager) ListUnitsFiltered(states []string) ([]unitStatus, *godbus.Error) {
	var out []unitStatus
	for _, s := range states {
		if s == "failed" {
			for _, n := range m.failed {
				out = append(out, unitStatus{Name: n, LoadState: "loaded", ActiveState: "failed", SubState: "failed",
					Path: godbus.ObjectPath("/org/freedesktop/systemd1/unit/" + sddbus.PathBusEscape(n)), JobPath: "/"})
			}
		}
	}
	return out, nil
}

// ListUnits lists the failed units and the units with properties, each
// with the states of its org.freedesktop.systemd1.Unit properties.
func (m *fakeManager) ListUnits() ([]unitStatus, *godbus.Error) {
	out, _ := m.ListUnitsFiltered([]string{"failed"})
	for n, ifaces := range m.units {
		u := ifaces["org.freedesktop.systemd1.Unit"]
		st := func(k string) string { v, _ := u[k].(string); return v }
		out = append(out, unitStatus{Name: n, LoadState: st("LoadState"), ActiveState: st("ActiveState"), SubState: st("SubState"),
			Path: godbus.ObjectPath("/org/freedesktop/systemd1/unit/" + sddbus.PathBusEscape(n)), JobPath: "/"})
	}
	return out, nil
}

func (m *fakeManager) GetDefaultTarget() (string, *godbus.Error) { return "multi-user.target", nil }

// FakeSystemd starts a private system bus (StartSystemBus) and serves on it
// a systemd manager whose failed units are failed and whose units have the
// given properties (unit name -> D-Bus interface -> property -> value), so
// the go-systemd client makes real D-Bus calls in tests. The manager says
// "running", default target multi-user.target, 21 s from kernel to finish.
func FakeSystemd(t testing.TB, failed []string, units map[string]map[string]map[string]any) {
	t.Helper()
	FakeSystemdJobs(t, failed, units, nil)
}

// FakeSystemdJobs is FakeSystemd whose ListJobs returns jobs (a unit's
// After= and InactiveExitTimestampMonotonic are its properties in units).
func FakeSystemdJobs(t testing.TB, failed []string, units map[string]map[string]map[string]any, jobs []FakeJob) {
	t.Helper()
	StartSystemBus(t)
	conn, err := godbus.ConnectSystemBus()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	const path = godbus.ObjectPath("/org/freedesktop/systemd1")
	if err := conn.Export(&fakeManager{failed: failed, units: units, jobs: jobs}, path, "org.freedesktop.systemd1.Manager"); err != nil {
		t.Fatal(err)
	}
	mgr := map[string]*prop.Prop{
		"SystemState":                 {Value: "running"},
		"Virtualization":              {Value: "kvm"},
		"FirmwareTimestampMonotonic":  {Value: uint64(0)},
		"LoaderTimestampMonotonic":    {Value: uint64(0)},
		"KernelTimestampMonotonic":    {Value: uint64(0)},
		"InitRDTimestampMonotonic":    {Value: uint64(1_000_000)},
		"UserspaceTimestampMonotonic": {Value: uint64(2_500_000)},
		"FinishTimestampMonotonic":    {Value: uint64(21_000_000)},
	}
	if _, err := prop.Export(conn, path, prop.Map{"org.freedesktop.systemd1.Manager": mgr}); err != nil {
		t.Fatal(err)
	}
	for name, ifaces := range units {
		m := prop.Map{}
		for iface, props := range ifaces {
			m[iface] = map[string]*prop.Prop{}
			for k, v := range props {
				m[iface][k] = &prop.Prop{Value: v}
			}
		}
		p := godbus.ObjectPath("/org/freedesktop/systemd1/unit/" + sddbus.PathBusEscape(name))
		if _, err := prop.Export(conn, p, m); err != nil {
			t.Fatal(err)
		}
	}
	if reply, err := conn.RequestName("org.freedesktop.systemd1", godbus.NameFlagDoNotQueue); err != nil || reply != godbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning org.freedesktop.systemd1: %v %v", reply, err)
	}
}

// FakeUnits returns a docker.service and multi-user.target as systemd
// exposes them.
func FakeUnits() map[string]map[string]map[string]any {
	return map[string]map[string]map[string]any{
		"docker.service": {
			"org.freedesktop.systemd1.Unit": {
				"LoadState": "loaded", "ActiveState": "active", "SubState": "running", "UnitFileState": "enabled",
				"InactiveExitTimestampMonotonic": uint64(14_000_000),
				"ActiveEnterTimestamp":           uint64(1_700_000_000_000_000), "ActiveEnterTimestampMonotonic": uint64(15_000_000),
			},
			"org.freedesktop.systemd1.Service": {"Result": "success", "NRestarts": uint32(2), "ExecMainStatus": int32(0)},
		},
		"multi-user.target": {
			"org.freedesktop.systemd1.Unit": {
				"LoadState": "loaded", "ActiveState": "active", "SubState": "active",
				"ActiveEnterTimestampMonotonic": uint64(20_000_000),
			},
		},
	}
}

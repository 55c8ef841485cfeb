package units

import (
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// booted is a host whose default target became active 20 s after the
// kernel started, with extra units, through the systemd stand-in.
func booted(units map[string]selftest.UnitState) *selftest.RunContext {
	all := map[string]selftest.UnitState{
		"multi-user.target": {LoadState: "loaded", ActiveState: "active", SubState: "active", ActiveEnterUsec: 20_000_000},
		"sshd.service":      {LoadState: "loaded", ActiveState: "active", SubState: "running", InactiveExitUsec: 9_000_000},
	}
	for n, u := range units {
		all[n] = u
	}
	sd := checktest.NewSystemd(all)
	sd.State.DefaultTarget = "multi-user.target"
	h := selftest.NewHost("/")
	h.NewSystemd = sd.Open
	return selftest.NewRunContext(h, nil)
}

// A unit activating since before the target was reached is stuck; one
// that began after it (cloud-final), the self-test itself, a unit waiting
// to restart and an ignored one are not.
func TestSettled(t *testing.T) {
	rc := booted(map[string]selftest.UnitState{
		"stuck-mount-wait.service": {LoadState: "loaded", ActiveState: "activating", SubState: "start", InactiveExitUsec: 12_500_000},
		"cloud-final.service":      {LoadState: "loaded", ActiveState: "activating", SubState: "start", InactiveExitUsec: 21_000_000},
		"atomic-selftest.service":  {LoadState: "loaded", ActiveState: "activating", SubState: "start", InactiveExitUsec: 1},
		"looping.service":          {LoadState: "loaded", ActiveState: "activating", SubState: "auto-restart", InactiveExitUsec: 2_000_000, NRestarts: 9},
		"known-slow-wait.service":  {LoadState: "loaded", ActiveState: "activating", SubState: "start-pre", InactiveExitUsec: 3_000_000},
		// As the testbed VM's NIC: tentative since early in the boot.
		"dev-disk-by\\x2dlabel.device": {LoadState: "loaded", ActiveState: "activating", SubState: "tentative", InactiveExitUsec: 1_200_000},
	})
	rc.Config.Units.Ignore = []string{"known-slow-wait.service"}
	res := checktest.ByID(t, rc, "units.settled", 0)
	checktest.Expect(t, res, record.StatusFail, "stuck-mount-wait.service is still activating (start), begun 7.5s before multi-user.target was reached")
	if len(res.Evidence) != 1 {
		t.Errorf("evidence %+v, want the stuck unit only", res.Evidence)
	}

	clean := booted(map[string]selftest.UnitState{
		"cloud-final.service": {LoadState: "loaded", ActiveState: "activating", SubState: "start", InactiveExitUsec: 21_000_000},
	})
	checktest.Expect(t, checktest.ByID(t, clean, "units.settled", 0), record.StatusPass, "(1 activating since)")

	// A boot that has not reached its target is host.boot's to judge.
	early := booted(map[string]selftest.UnitState{"multi-user.target": {LoadState: "loaded", ActiveState: "activating", SubState: "start"}})
	checktest.Expect(t, checktest.ByID(t, early, "units.settled", 0), record.StatusSkip, "multi-user.target is activating")
}

// Past units.max_restarts fails, naming each service and its count; at the
// threshold passes; an ignored service and the threshold from the
// configuration are honoured.
func TestRestarts(t *testing.T) {
	rc := booted(map[string]selftest.UnitState{
		"run-u42.service":  {LoadState: "loaded", ActiveState: "activating", SubState: "auto-restart", NRestarts: 7, Result: "exit-code"},
		"docker.service":   {LoadState: "loaded", ActiveState: "active", SubState: "running", NRestarts: 3},
		"flaky.service":    {LoadState: "loaded", ActiveState: "failed", SubState: "failed", NRestarts: 5, Result: "start-limit-hit"},
		"vendor.service":   {LoadState: "loaded", ActiveState: "active", SubState: "running", NRestarts: 50},
		"missing.service":  {LoadState: "not-found", ActiveState: "inactive", SubState: "dead", NRestarts: 99},
		"restarting.timer": {LoadState: "loaded", ActiveState: "active", SubState: "waiting", NRestarts: 99},
	})
	rc.Config.Units.Ignore = []string{"vendor.service"}
	res := checktest.ByID(t, rc, "units.restarts", 0)
	checktest.Expect(t, res, record.StatusFail, "restart loop (units.max_restarts 3): ",
		"flaky.service restarted 5 times this boot (now failed/failed)", "run-u42.service restarted 7 times this boot (now activating/auto-restart)")
	if got := res.Details["restarts"]; got == nil {
		t.Errorf("details %v lack the restart counts", res.Details)
	}
	rc.Config.Units.MaxRestarts = 10
	checktest.Expect(t, checktest.ByID(t, rc, "units.restarts", 0), record.StatusPass, "no service of 4 restarted more than 10 times", "3 restarted at all")
}

// The same check through the real D-Bus client, against a systemd
// manager on a private bus: ListUnits, then each service's NRestarts.
func TestRestartsOverDBus(t *testing.T) {
	units := testutil.FakeUnits()
	units["looper.service"] = map[string]map[string]any{
		"org.freedesktop.systemd1.Unit":    {"LoadState": "loaded", "ActiveState": "activating", "SubState": "auto-restart"},
		"org.freedesktop.systemd1.Service": {"Result": "exit-code", "NRestarts": uint32(12), "ExecMainStatus": int32(1)},
	}
	testutil.FakeSystemd(t, nil, units)
	c := checktest.Registered(t, "units.restarts")
	c.Applies = nil // systemd is not PID 1 here: the private bus stands in
	rc := selftest.NewRunContext(selftest.NewHost("/"), nil)
	defer rc.Close()
	checktest.Expect(t, checktest.One(t, rc, c), record.StatusFail, "looper.service restarted 12 times this boot (now activating/auto-restart)")
}

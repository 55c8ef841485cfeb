package host

import (
	"context"
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

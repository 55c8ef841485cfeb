package health

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

// systemdStandIn owns org.freedesktop.systemd1 on a private system bus
// and records StartUnit calls: the method and its (ss) → o signature are
// systemd's (org.freedesktop.systemd1(5), Manager.StartUnit).
type systemdStandIn struct {
	mu    sync.Mutex
	calls []string
	fail  bool
}

func (s *systemdStandIn) StartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, name+" "+mode)
	if s.fail {
		return "", dbus.NewError("org.freedesktop.systemd1.TransactionIsDestructive", []any{"transaction is destructive"})
	}
	return "/org/freedesktop/systemd1/job/42", nil
}

func (s *systemdStandIn) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func startSystemdStandIn(t testing.TB) *systemdStandIn {
	t.Helper()
	testutil.StartSystemBus(t)
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &systemdStandIn{}
	if err := conn.Export(s, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.freedesktop.systemd1", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning org.freedesktop.systemd1: %v %v", reply, err)
	}
	return s
}

func TestSystemdRebooter(t *testing.T) {
	s := startSystemdStandIn(t)
	if err := (SystemdRebooter{}).RequestReboot(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := s.got(); len(got) != 1 || got[0] != "reboot.target replace-irreversibly" {
		t.Fatalf("StartUnit calls: %q", got)
	}
	s.fail = true
	err := (SystemdRebooter{}).RequestReboot(context.Background())
	if err == nil || !strings.Contains(err.Error(), "StartUnit(reboot.target, replace-irreversibly)") || !strings.Contains(err.Error(), "transaction is destructive") {
		t.Fatalf("a refused reboot: %v", err)
	}
}

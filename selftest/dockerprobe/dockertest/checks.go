package dockertest

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Systemd stands in for systemd, which is not PID 1 where the tests run:
// it reports the given unit states as the D-Bus probe would read them,
// and LoadState "not-found" for any other unit.
func Systemd(units map[string]selftest.UnitState) func(context.Context) (selftest.Systemd, error) {
	return func(context.Context) (selftest.Systemd, error) { return fakeSystemd(units), nil }
}

type fakeSystemd map[string]selftest.UnitState

func (f fakeSystemd) Unit(_ context.Context, name string) (selftest.UnitState, error) {
	if u, ok := f[name]; ok {
		u.Name = name
		return u, nil
	}
	return selftest.UnitState{Name: name, LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}, nil
}
func (f fakeSystemd) FailedUnits(context.Context) ([]string, error) { return nil, nil }

func (f fakeSystemd) ListUnits(context.Context) ([]selftest.UnitState, error) { return nil, nil }
func (f fakeSystemd) Manager(context.Context) (record.ManagerState, error) {
	return record.ManagerState{}, nil
}
func (f fakeSystemd) Jobs(context.Context) ([]record.Job, error) { return nil, nil }
func (f fakeSystemd) Close()                                     {}

// StalledSocket returns a unix socket that accepts connections and never
// answers, as a hung daemon does.
func StalledSocket(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "stall.sock")
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 1000)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
			default:
				return
			}
		}
	})
	return p
}

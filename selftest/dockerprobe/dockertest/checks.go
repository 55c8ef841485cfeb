package dockertest

import (
	"context"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
)

// RunCheck runs one registered check through the real runner, with its
// timeout replaced when timeout is non-zero, and returns its result.
func RunCheck(t testing.TB, h *selftest.Host, id string, timeout time.Duration) record.Result {
	t.Helper()
	c := checktest.Registered(t, id)
	if timeout > 0 {
		c.Timeout = timeout
	}
	return checktest.One(t, h, c)
}

// Expect fails t unless res has status and its message mentions every
// one of parts.
func Expect(t testing.TB, res record.Result, status record.Status, parts ...string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s: %s (%s), want %s; evidence %+v", res.ID, res.Status, res.Message, status, res.Evidence)
	}
	for _, p := range parts {
		if !strings.Contains(res.Message, p) {
			t.Errorf("%s: message %q does not mention %q", res.ID, res.Message, p)
		}
	}
}

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
func (f fakeSystemd) Manager(context.Context) (record.ManagerState, error) {
	return record.ManagerState{}, nil
}
func (f fakeSystemd) Close() {}

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

package checktest

import (
	"context"
	"sort"
	"sync"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Systemd is the one in-process stand-in for systemd's D-Bus API
// (selftest.Systemd) in the checks' tests, where systemd is not PID 1:
// units it was given report their state, any other unit LoadState
// "not-found" as systemd answers for a unit it does not know. Hand
// Systemd.Open to Host.NewSystemd. Its methods are safe while checks run.
// (selftest's own tests of the D-Bus probe use a fake systemd on a private
// dbus-daemon instead: internal/testutil.FakeSystemd.)
type Systemd struct {
	mu    sync.Mutex
	units map[string]selftest.UnitState
	// State is what Manager returns (Virtualization, boot timestamps),
	// and ManagerErr its error.
	State      record.ManagerState
	ManagerErr error
	jobs       []record.Job
}

// SetJobs gives the stand-in systemd's job list (what ListJobs returns:
// unit, type, state, how long, and the unit's After=).
func (s *Systemd) SetJobs(jobs []record.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs = append([]record.Job(nil), jobs...)
}

// Jobs implements selftest.Systemd.
func (s *Systemd) Jobs(context.Context) ([]record.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]record.Job, len(s.jobs))
	for i, j := range s.jobs {
		j.After = append([]string(nil), j.After...)
		out[i] = j
	}
	return out, nil
}

// NewSystemd returns a stand-in that knows units.
func NewSystemd(units map[string]selftest.UnitState) *Systemd {
	s := &Systemd{units: map[string]selftest.UnitState{}}
	for n, u := range units {
		s.units[n] = u
	}
	return s
}

// Open is a Host.NewSystemd that returns s.
func (s *Systemd) Open(context.Context) (selftest.Systemd, error) { return s, nil }

// Set gives unit name the state u; Remove makes it unknown again.
func (s *Systemd) Set(name string, u selftest.UnitState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.units[name] = u
}

// Remove makes unit name unknown.
func (s *Systemd) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.units, name)
}

// Unit implements selftest.Systemd.
func (s *Systemd) Unit(_ context.Context, name string) (selftest.UnitState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.units[name]; ok {
		u.Name = name
		return u, nil
	}
	return selftest.UnitState{Name: name, LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}, nil
}

// FailedUnits implements selftest.Systemd: the units whose ActiveState is
// "failed", sorted.
func (s *Systemd) FailedUnits(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n, u := range s.units {
		if u.ActiveState == "failed" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ListUnits implements selftest.Systemd: the units it knows, with their
// states, sorted by name.
func (s *Systemd) ListUnits(context.Context) ([]selftest.UnitState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]selftest.UnitState, 0, len(s.units))
	for n, u := range s.units {
		out = append(out, selftest.UnitState{Name: n, LoadState: u.LoadState, ActiveState: u.ActiveState, SubState: u.SubState})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Manager implements selftest.Systemd.
func (s *Systemd) Manager(context.Context) (record.ManagerState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.State, s.ManagerErr
}

// Close implements selftest.Systemd.
func (s *Systemd) Close() {}

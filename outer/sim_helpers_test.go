package outer

import (
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/outertest"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/outer/ssh"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

type simHost = outertest.Host

func newSimFleet(t testing.TB, n int, tweak func(i int, h *simHost)) *outertest.Fleet {
	return outertest.NewFleet(t, n, tweak)
}

// simMachines connects an SSH machine to every simulated host.
func simMachines(t testing.TB, f *outertest.Fleet) []transport.Machine {
	var ms []transport.Machine
	for _, h := range f.Hosts {
		m, err := ssh.New(ssh.Config{Name: h.Name, Addr: h.Addr, KeyFile: f.KeyFile, KnownHosts: f.KnownHosts, DialTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		ms = append(ms, m)
	}
	return ms
}

func simOptions(t testing.TB, p *plan.Plan) Options {
	return Options{Plan: p, ArtifactsDir: t.TempDir(), Parallel: 64, RebootTimeout: 5 * time.Second,
		SelftestTimeout: 5 * time.Second, CommandTimeout: 5 * time.Second, Poll: Backoff{Min: 5 * time.Millisecond, Max: 40 * time.Millisecond}}
}

// rebooted reports whether step s rebooted its host.
func rebooted(s *report.StepReport) bool {
	for _, a := range s.Actions {
		if a.Do == plan.ActReboot {
			return true
		}
	}
	return false
}

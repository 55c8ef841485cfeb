package health

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// BenchmarkFailureToRebootRequest measures what the target (under
// 2 s plus the tool's own time) bounds: from a finished failing run to
// systemd's answer to StartUnit(reboot.target): the decision, the state
// writes (fsync'd), the rollback through a command stand-in (`true`, so
// the tool's own time is one fork/exec), the record save, and the D-Bus
// call to a systemd stand-in on a private bus. ns/op is that time.
func BenchmarkFailureToRebootRequest(b *testing.B) {
	startSystemdStandIn(b)
	truePath := testutil.NeedCommand(b, "coreutils", "true")
	dir := b.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	p := policy("rollback", 0)
	p.RollbackCommand = []string{truePath}
	env := &Env{Store: st, Policy: p, BootID: "bench", Tool: commandTool{argv: p.RollbackCommand, cmd: selftest.ExecCommander{}}, Rebooter: SystemdRebooter{}}
	var worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// Each iteration is a first failure: no state from the last one.
		_ = os.Remove(filepath.Join(dir, StateFile))
		rec := failedRun(record.TransitionUpgrade, true)
		rec.Start, rec.BootID = time.Now(), "bench"
		b.StartTimer()
		start := time.Now()
		if err := runHealthStep(env, rec); err != nil {
			b.Fatal(err)
		}
		if d := time.Since(start); d > worst {
			worst = d
		}
		if rec.Health.Action != record.HealthRollback {
			b.Fatalf("%+v", rec.Health)
		}
		b.StopTimer()
		names, _ := filepath.Glob(filepath.Join(dir, "run-*.json"))
		for _, n := range names {
			_ = os.Remove(n)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

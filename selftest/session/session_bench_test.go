package session

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
)

// BenchmarkRun20NoopChecks is a full run of 20 no-op checks with
// persistence: lock, history, run, save (fsync), state files, prune.
// It reports the heap allocated during one run with the GC off, an upper
// bound of the run's peak heap.
func BenchmarkRun20NoopChecks(b *testing.B) {
	reg := &selftest.Registry{}
	for i := 0; i < 20; i++ {
		reg.Register(&selftest.Check{ID: fmt.Sprintf("noop.c%02d", i), Criterion: "C1", Required: true,
			Description: "no-op", Offline: true, Run: func(context.Context, *selftest.T) {}})
	}
	dir := b.TempDir()
	opts := Options{ResultsDir: dir, Registry: reg, Config: config.Defaults(), Version: "bench"}
	var peak uint64
	var ms runtime.MemStats
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		old := debug.SetGCPercent(-1)
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		b.StartTimer()
		out, err := Run(context.Background(), opts)
		b.StopTimer()
		runtime.ReadMemStats(&ms)
		debug.SetGCPercent(old)
		b.StartTimer()
		if err != nil || out.SaveErr != nil || !out.Record.Summary.OK {
			b.Fatalf("run: %v %v", err, out.SaveErr)
		}
		if d := ms.HeapAlloc - before; d > peak {
			peak = d
		}
	}
	b.ReportMetric(float64(peak), "peak-heap-B")
}

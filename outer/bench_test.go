package outer

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDefaultPlan50Hosts drives 50 simulated hosts in parallel
// through the default plan (9 steps, 8 reboots each). The CPU time it
// reports is the whole process's: the driver plus the 50 simulated SSH
// servers on the other end, so the driver's own share is below it.
//
//	go test -run '^$' -bench DefaultPlan50Hosts -benchtime 1x ./outer
func BenchmarkDefaultPlan50Hosts(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newSimFleet(b, 50, nil)
		ms := simMachines(b, f)
		opts := simOptions(b, plan.Default())
		opts.Parallel = 50
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		cpu0 := cpuTime()
		b.StartTimer()
		rep := Run(context.Background(), ms, opts)
		b.StopTimer()
		cpu := cpuTime() - cpu0
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if !rep.OK {
			b.Fatal("the default plan failed on a simulated host")
		}
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		b.ReportMetric(cpu.Seconds(), "cpu-s/op")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "alloc-MB/op")
		b.ReportMetric(float64(after.Sys)/(1<<20), "go-sys-MB")
		b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
		for _, m := range ms {
			m.Close()
		}
	}
}

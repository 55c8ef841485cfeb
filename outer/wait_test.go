package outer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
)

// The driver learns of each boot's record through the host's blocking
// `results --wait-boot` and times every step: sshd to the self-test's
// start (the simulated self-test starts SelftestDelay after boot), the run,
// and the driver's lag behind the record's save; the figures reach the
// progress lines and report.json. The host's clock is 7 s ahead of the
// driver's (a guest's clock can be): the figures are corrected by the
// offset the driver measures.
func TestWaitBootSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.SelftestDelay, h.ClockAhead = 300*time.Millisecond, 7*time.Second })
	opts := simOptions(t, plan.Ostree())
	var mu sync.Mutex
	var lines []string
	opts.OnEvent = func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Status != "start" && e.Action == "" {
			lines = append(lines, e.Step+": "+e.Message)
		}
	}
	rep := Run(context.Background(), simMachines(t, f), opts)
	logReport(t, rep)
	if !rep.OK {
		t.Fatal("ostree plan failed")
	}
	cmds := strings.Join(f.Hosts[0].Commands(), "\n")
	if !strings.Contains(cmds, "atomic-selftest results --wait-boot "+rep.Hosts[0].Steps[1].BootID) || strings.Contains(cmds, "find ") {
		t.Errorf("the driver did not wait on the host (or also polled):\n%s", cmds)
	}
	for i, s := range rep.Hosts[0].Steps {
		if i > 0 && !rebooted(s) {
			continue // the cleanup and the n/a layering step boot nothing
		}
		tm := s.Timing
		if tm == nil {
			t.Fatalf("step %s: no timing", s.Name)
		}
		// The measured offset is good to half a round trip: the record,
		// on the driver's clock, ended before it was seen, to within that.
		offset := time.Duration(tm.ClockOffsetSec * float64(time.Second))
		if tm.Wait != WaitBlocking || tm.RecordSeen.Add(100*time.Millisecond).Before(tm.RecordEnd.Add(-offset)) {
			t.Fatalf("step %s: timing %+v", s.Name, tm)
		}
		if i == 0 {
			continue // the baseline's boot began before the driver reached the host
		}
		// Every later step rebooted: sshd answered before the self-test
		// started (it starts SelftestDelay after boot). That the record
		// came through the blocking wait, not polling, is what the
		// commands above show; the lag only has to be sane, since a
		// loaded machine stretches every figure.
		if tm.SSHUp.IsZero() || tm.SSHToStartSec <= 0 || tm.SSHToStartSec > 5 || tm.LagSec < 0 || tm.LagSec > 5 {
			t.Errorf("step %s: sshd→start %.3fs, lag %.3fs (%+v)", s.Name, tm.SSHToStartSec, tm.LagSec, tm)
		}
		if tm.ClockOffsetSec < 6 || tm.ClockOffsetSec > 8 || tm.RecordSaved.IsZero() {
			t.Errorf("step %s: host clock offset %.3fs (want about 7), saved %s, end %s", s.Name, tm.ClockOffsetSec, tm.RecordSaved, tm.RecordEnd)
		}
	}
	mu.Lock()
	joined := strings.Join(lines, "\n")
	mu.Unlock()
	if !strings.Contains(joined, "ostree-upgrade: sshd→self-test ") || !strings.Contains(joined, "driver lag ") || !strings.Contains(joined, "(wait-boot)") {
		t.Errorf("progress lines lack the timing:\n%s", joined)
	}
	if err := rep.WriteFiles(opts.ArtifactsDir); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(opts.ArtifactsDir, "report.json"))
	var back struct {
		Hosts []struct {
			Steps []struct {
				Timing map[string]any `json:"timing"`
			} `json:"steps"`
		} `json:"hosts"`
	}
	json.Unmarshal(data, &back)
	tm := back.Hosts[0].Steps[1].Timing
	for _, k := range []string{"sshd_up", "record_start", "record_end", "record_seen", "sshd_to_start_s", "run_s", "driver_lag_s", "wait", "record_saved", "host_clock_offset_s"} {
		if _, ok := tm[k]; !ok {
			t.Errorf("report.json step timing lacks %s: %v", k, tm)
		}
	}
}

// A host whose self-test predates `results --wait-boot` is polled: the
// driver asks once, reads pflag's refusal, and polls from then on.
func TestWaitBootFallbackSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.NoWaitOption = true })
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, plan.Ostree()))
	logReport(t, rep)
	if !rep.OK {
		t.Fatal("ostree plan failed")
	}
	cmds := f.Hosts[0].Commands()
	asked, polled := 0, 0
	for _, c := range cmds {
		if strings.Contains(c, "results --wait-boot") {
			asked++
		}
		if strings.HasPrefix(c, "find ") {
			polled++
		}
	}
	if asked != 1 || polled == 0 {
		t.Errorf("asked for the blocking wait %d times (want 1), polled %d times", asked, polled)
	}
	for i, s := range rep.Hosts[0].Steps {
		if i > 0 && !rebooted(s) {
			continue
		}
		if s.Timing == nil || s.Timing.Wait != WaitPoll {
			t.Errorf("step %s: timing %+v, want wait=poll", s.Name, s.Timing)
		}
	}
}

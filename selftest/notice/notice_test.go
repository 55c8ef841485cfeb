package notice_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/notice"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

var (
	t0   = time.Date(2026, 12, 7, 3, 10, 0, 0, time.UTC)
	from = &record.Deployment{OSName: "fedora", Checksum: "abc1234567890", Version: "12.3"}
	to   = &record.Deployment{OSName: "fedora", Checksum: "def4567890123", Version: "12.2"}
)

// save writes a run record of boot at start with health action h (nil:
// none) and returns its ID.
func save(t *testing.T, st *store.Store, boot string, start time.Time, h *record.Health) string {
	t.Helper()
	res := []record.Result{{ID: "runtime.service", Criterion: "C5", Required: true, Status: record.StatusPass, Start: start}}
	rec := &record.Record{Schema: 1, BootID: boot, Trigger: "boot", Start: start, End: start.Add(time.Second),
		Deployment: from, Health: h, Checks: res, Summary: record.Summarise(res)}
	if _, err := st.SaveRun(rec); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

func rollback(at time.Time) *record.Health {
	return &record.Health{Policy: "rollback", Action: record.HealthRollback, From: from, To: to, Tool: "rpm-ostree",
		Attempt: 2, MaxAttempts: 2, DecidedAt: at, Stage: record.HealthStageDone,
		Failing: []record.FailingCheck{{ID: "runtime.service", Message: "docker.service is failed, expected active\nmore"}}}
}

// The banner stays until ack, is gone after, and a new rollback brings
// it back.
func TestAckCycle(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if rec, err := notice.Acknowledge(ctx, dir, "b0", time.Second, t0); rec != nil || err != nil {
		t.Fatalf("nothing to acknowledge: %v, %v", rec, err)
	}
	if _, err := os.Stat(filepath.Join(dir, notice.AckFile)); !os.IsNotExist(err) {
		t.Fatalf("ack file written with nothing to acknowledge: %v", err)
	}
	save(t, st, "b1", t0.Add(-time.Minute), nil)
	id := save(t, st, "b1", t0, rollback(t0))
	save(t, st, "b2", t0.Add(time.Minute), nil)

	pending, err := notice.Pending(st)
	lines := notice.MotdLines(pending)
	want := "atomic-selftest: rolled back from 12.3 (abc1234567…) to 12.2 (def4567890…) on 2026-12-07 03:10 UTC: runtime.service failed: docker.service is failed, expected active"
	if err != nil || len(lines) != 2 || lines[0] != want {
		t.Fatalf("motd lines %q (%v), want %q first", lines, err, want)
	}
	rec, err := notice.Acknowledge(ctx, dir, "b2", time.Second, t0.Add(2*time.Minute))
	if err != nil || rec == nil || rec.ID != id {
		t.Fatalf("acknowledged %v, %v; want %s", rec, err, id)
	}
	info, err := os.Stat(filepath.Join(dir, notice.AckFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("ack file: %v %v", info, err)
	}
	if pending, err := notice.Pending(st); notice.MotdLines(pending) != nil || err != nil {
		t.Fatalf("after ack: %q %v", lines, err)
	}
	// The latest action is still there for status, acknowledged.
	runs, _, _ := st.Runs(store.Filter{})
	ack, _ := notice.ReadAck(st)
	v := notice.Summarize(runs, ack)
	if v.Banner != "" || v.Latest == nil || v.Latest.Record != id || v.Latest.Health.Attempt != 2 || v.Acknowledged == nil || v.Acknowledged.Record != id {
		t.Fatalf("view after ack %+v", v)
	}

	// A later rollback brings the banner back.
	id2 := save(t, st, "b3", t0.Add(time.Hour), rollback(t0.Add(time.Hour)))
	rec, err = notice.Pending(st)
	if err != nil || rec == nil || rec.ID != id2 {
		t.Fatalf("pending %v %v, want %s", rec, err, id2)
	}
	// A garbled ack file: the newest rollback shows and the error says why.
	if err := os.WriteFile(filepath.Join(dir, notice.AckFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rec, err := notice.Pending(st); err == nil || rec == nil || rec.ID != id2 {
		t.Fatalf("garbled ack: %v %v", rec, err)
	}
}

// The history carries the last boot's rollback, even when a later run of
// that boot recorded a refusal, and nothing of other boots.
func TestLastAction(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	save(t, st, "oldboot", t0.Add(-time.Hour), rollback(t0.Add(-time.Hour)))
	id := save(t, st, "lastboot", t0, rollback(t0))
	save(t, st, "lastboot", t0.Add(time.Minute), &record.Health{Action: record.HealthRefused, Reason: "already rolled back from 12.3"})
	save(t, st, "lastboot", t0.Add(2*time.Minute), &record.Health{Action: record.HealthRecord})
	save(t, st, "lastbootX", t0.Add(3*time.Minute), &record.Health{Action: record.HealthReboot})

	runs, _, err := st.Runs(store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if r := notice.LastAction(runs, ""); r != nil {
		t.Fatalf("no last boot: %+v", r)
	}
	if r := notice.LastAction(runs, "lastboot"); r == nil || r.ID != id || r.Health.Action != record.HealthRollback {
		t.Fatalf("last action %+v, want the rollback %s", r, id)
	}
	// A boot id is matched whole, not as a prefix ("lastbootX").
	if r := notice.LastAction(runs, "lastboo"); r != nil {
		t.Fatalf("boot without runs: %+v", r)
	}
}

// Host strings in the banner are escaped for the terminal.
func TestBannerEscapes(t *testing.T) {
	h := rollback(t0)
	h.Failing[0].Message = "bad\x1b[2Jthing"
	b := notice.Banner(&record.Record{Health: h})
	if want := `runtime.service failed: bad\x1b[2Jthing`; b[len(b)-len(want):] != want {
		t.Errorf("banner %q", b)
	}
}

// The motd banner reads every kept record on every run: with the default
// results.keep of 100 records it must stay cheap.
func BenchmarkPending100(b *testing.B) {
	st, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		var h *record.Health
		if i == 50 {
			h = rollback(t0)
		}
		res := []record.Result{{ID: "runtime.service", Criterion: "C5", Required: true, Status: record.StatusPass, Start: t0}}
		for j := 0; j < 40; j++ {
			res = append(res, record.Result{ID: "host.check" + string(rune('a'+j%26)), Criterion: "C1", Status: record.StatusPass, Start: t0,
				Evidence: []record.Evidence{{Name: "seen", Expected: "something", Seen: "something else, at some length"}}})
		}
		rec := &record.Record{Schema: 1, BootID: "boot", Start: t0.Add(time.Duration(i) * time.Minute), Deployment: from, Health: h, Checks: res, Summary: record.Summarise(res)}
		if _, err := st.SaveRun(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec, err := notice.Pending(st); err != nil || rec == nil {
			b.Fatal(rec, err)
		}
	}
}

// TestClockJumpBanner (issue 24 item 5): rollback records dated 2099 (a
// clock set wrong) were acknowledged; a later real rollback, dated by the
// corrected clock, sorted before them and its banner never showed.
func TestClockJumpBanner(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	save(t, st, "b1", future, rollback(future))
	if rec, err := notice.Acknowledge(context.Background(), dir, "b1", time.Second, future); rec == nil || err != nil {
		t.Fatalf("ack: %v %v", rec, err)
	}
	id := save(t, st, "b2", t0, rollback(t0))
	rec, err := notice.Pending(st)
	if err != nil || rec == nil || rec.ID != id {
		t.Fatalf("pending after the clock came back: %v %v, want %s", rec, err, id)
	}
}

// The banner of a rollback a deadline run ordered says what the boot
// waited for, not only its first failing check (issue 31).
func TestBannerOfAMissedDeadline(t *testing.T) {
	from := &record.Deployment{OSName: "debian", Checksum: strings.Repeat("e", 64), Version: "12.5"}
	to := &record.Deployment{OSName: "debian", Checksum: strings.Repeat("1", 64), Version: "12.1"}
	at := time.Date(2026, 12, 7, 21, 40, 0, 0, time.UTC)
	rec := &record.Record{ID: "run-x", Trigger: record.TriggerDeadline, End: at,
		Deadline: &record.Deadline{Bound: "3m0s", Jobs: []record.Job{{Unit: "testbed-hang.service", Type: "start", State: "running", ForSec: 170}}},
		Health: &record.Health{Action: record.HealthRollback, From: from, To: to, DecidedAt: at,
			Failing: []record.FailingCheck{{ID: "cloudinit.finished", Message: "cloud-final has not run"}, {ID: "host.boot", Message: "the boot missed its deadline"}}}}
	want := "rolled back from 12.5 (eeeeeeeeee…) to 12.1 (1111111111…) on 2026-12-07 21:40 UTC: " +
		"missed its deadline (3m0s after it started); it waited for testbed-hang.service start running for 2m50s"
	if got := notice.Banner(rec); got != want {
		t.Errorf("Banner =\n%q\nwant\n%q", got, want)
	}
}

package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// past returns an Uptime that says the boot started d ago.
func pastUptime(d time.Duration) func() (time.Duration, error) {
	return func() (time.Duration, error) { return d, nil }
}

func deadlineConfig() *config.Config {
	cfg := config.Defaults()
	cfg.Health.OnFailure, cfg.Health.RebootAttempts = "rollback", 0
	cfg.Health.BootDeadline = config.Duration(3 * time.Minute)
	return cfg
}

// saveBootRun saves a record of this boot's boot run in dir.
func saveBootRun(t *testing.T, dir string) *record.Record {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rec := &record.Record{Schema: record.SchemaVersion, BootID: ReadBootID(), Trigger: record.TriggerBoot, Start: now, End: now,
		Summary: record.Summary{OK: true}}
	if _, err := st.SaveRun(rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// A boot whose boot run saved its record before the deadline: the
// deadline run does nothing and says so, whether it finds the record at
// once (started after the deadline) or while it waits for the deadline.
func TestDeadlineAfterTheBootRunDoesNothing(t *testing.T) {
	if ReadBootID() == "" {
		t.Skip("no boot id on this machine")
	}
	dir := t.TempDir()
	saved := saveBootRun(t, dir)
	out, err := Run(context.Background(), Options{ResultsDir: dir, Registry: failingUpgrade(), Config: deadlineConfig(),
		Trigger: record.TriggerDeadline, Uptime: pastUptime(time.Hour)})
	if err != nil || out.Record != nil || !strings.Contains(out.NotRun, "this boot is judged already: run "+saved.ID+" (trigger boot)") {
		t.Fatalf("after the deadline: %v %+v", err, out)
	}

	// Before the deadline: the run waits (inotify) and the boot run's
	// record arrives 100 ms later.
	dir = t.TempDir()
	done := make(chan *Outcome, 1)
	go func() {
		out, err := Run(context.Background(), Options{ResultsDir: dir, Registry: failingUpgrade(), Config: deadlineConfig(),
			Trigger: record.TriggerDeadline, Uptime: pastUptime(3*time.Minute - 20*time.Second)})
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	time.Sleep(100 * time.Millisecond)
	saved = saveBootRun(t, dir)
	select {
	case out := <-done:
		if out == nil || out.Record != nil || !strings.Contains(out.NotRun, saved.ID) {
			t.Fatalf("while waiting: %+v", out)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the deadline run did not see the boot run's record within 15 s")
	}

	// Stopped while it waits (a shutdown, SIGTERM): nothing judged, no error.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	out, err = Run(ctx, Options{ResultsDir: t.TempDir(), Registry: failingUpgrade(), Config: deadlineConfig(),
		Trigger: record.TriggerDeadline, Uptime: pastUptime(time.Minute)})
	if err != nil || out.Record != nil || out.NotRun != "stopped 1m0s after the boot, before its deadline (3m0s); nothing judged" {
		t.Fatalf("stopped while waiting: %v %+v", err, out)
	}

	cfg := deadlineConfig()
	cfg.Health.BootDeadline = 0
	out, err = Run(context.Background(), Options{ResultsDir: t.TempDir(), Registry: failingUpgrade(), Config: cfg, Trigger: record.TriggerDeadline})
	if err != nil || out.Record != nil || out.NotRun != "health.boot_deadline is 0: this boot has no deadline" {
		t.Fatalf("deadline off: %v %+v", err, out)
	}
	if _, err := Run(context.Background(), Options{NoSave: true, Trigger: record.TriggerDeadline, Config: cfg}); err == nil {
		t.Fatal("--no-save with --trigger deadline: no usage error")
	}
}

// A boot that missed its deadline under on_failure = rollback: the
// deadline run judges it, records the deadline, rolls back once and asks
// for the reboot; the boot run that starts late on the same boot judges
// it again but never acts a second time.
func TestDeadlineRunActsOncePerBoot(t *testing.T) {
	if ReadBootID() == "" {
		t.Skip("no boot id on this machine")
	}
	dir := t.TempDir()
	tool, rb := &recordingTool{}, &savedFirst{dir: dir}
	out, err := Run(context.Background(), Options{ResultsDir: dir, Registry: failingUpgrade(), Config: deadlineConfig(),
		Trigger: record.TriggerDeadline, Uptime: pastUptime(3*time.Minute + 2*time.Second), HealthTool: tool, Rebooter: rb})
	if err != nil || out.NotRun != "" || out.SaveErr != nil || out.HealthErr != nil {
		t.Fatalf("deadline run: %v %+v", err, out)
	}
	rec := out.Record
	if rec.Trigger != record.TriggerDeadline || rec.Deadline == nil || rec.Deadline.Bound != "3m0s" || rec.Deadline.UptimeSec != 182 {
		t.Errorf("record trigger %s deadline %+v", rec.Trigger, rec.Deadline)
	}
	if len(rec.Waited) != 0 {
		t.Errorf("a deadline run started after its deadline waited for %+v, want nothing", rec.Waited)
	}
	if h := rec.Health; h == nil || h.Action != record.HealthRollback || tool.calls != 1 || rb.calls != 1 || rb.err != nil {
		t.Fatalf("deadline run's health %+v, %d rollbacks, %d reboots (%v)", h, tool.calls, rb.calls, rb.err)
	}
	st, _ := store.Open(dir)
	if r, err := st.BootRun(ReadBootID()); err != nil || r == nil || r.ID != rec.ID {
		t.Errorf("BootRun = %v %v, want the deadline run's record: it judged this boot", r, err)
	}

	out, err = Run(context.Background(), Options{ResultsDir: dir, Registry: failingUpgrade(), Config: deadlineConfig(),
		Trigger: record.TriggerBoot, HealthTool: tool, Rebooter: rb})
	if err != nil || out.Record == nil {
		t.Fatalf("late boot run: %v %+v", err, out)
	}
	h := out.Record.Health
	if h == nil || h.Action != record.HealthRefused || !strings.Contains(h.Reason, "the policy acted on this boot already (rollback by run "+rec.ID) ||
		tool.calls != 1 || rb.calls != 1 {
		t.Fatalf("late boot run's health %+v, %d rollbacks, %d reboots; want a refusal naming the deadline run's action", h, tool.calls, rb.calls)
	}

	// on_failure = reboot: the deadline run reboots; a late boot run on
	// the same boot, within the attempts, does not reboot again.
	dir = t.TempDir()
	cfg := deadlineConfig()
	cfg.Health.OnFailure, cfg.Health.RebootAttempts = "reboot", 3
	rb = &savedFirst{dir: dir}
	out, err = Run(context.Background(), Options{ResultsDir: dir, Registry: failingUpgrade(), Config: cfg,
		Trigger: record.TriggerDeadline, Uptime: pastUptime(time.Hour), Rebooter: rb})
	if err != nil || out.Record == nil || out.Record.Health == nil || out.Record.Health.Action != record.HealthReboot || rb.calls != 1 {
		t.Fatalf("deadline run under reboot: %v %+v, %d reboots", err, out, rb.calls)
	}
	out, err = Run(context.Background(), Options{ResultsDir: dir, Registry: failingUpgrade(), Config: cfg, Trigger: record.TriggerBoot, Rebooter: rb})
	if err != nil || out.Record == nil || out.Record.Health == nil || out.Record.Health.Action != record.HealthRefused ||
		!strings.Contains(out.Record.Health.Reason, "the policy acted on this boot already (reboot by run ") || rb.calls != 1 {
		t.Fatalf("late boot run under reboot: %v %+v, %d reboots", err, out.Record.Health, rb.calls)
	}
}

// The record says what the run waited for, each wait with its bound: the
// boot run's record until the deadline, and the results lock another run
// held.
func TestDeadlineRecordSaysWhatItWaitedFor(t *testing.T) {
	if ReadBootID() == "" {
		t.Skip("no boot id on this machine")
	}
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := st.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(800*time.Millisecond, unlock)
	cfg := deadlineConfig()
	cfg.Health.OnFailure = "record"
	out, err := Run(context.Background(), Options{ResultsDir: dir, Registry: failingUpgrade(), Config: cfg,
		Trigger: record.TriggerDeadline, Uptime: pastUptime(3*time.Minute - 300*time.Millisecond)})
	if err != nil || out.Record == nil {
		t.Fatalf("%v %+v", err, out)
	}
	w := out.Record.Waited
	if len(w) != 2 || w[0].For != "the boot run's record, until the deadline" || w[0].Sec < 0.3 || w[0].BoundSec != 0.3 ||
		w[1].For != "the results lock (another run held it)" || w[1].Sec < 0.3 || w[1].BoundSec != 300 {
		t.Errorf("waited %+v, want the deadline's 0.3 s and the lock's rest of 0.8 s (bound 5 min)", w)
	}
}

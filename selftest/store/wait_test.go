package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// WaitBootRun returns the moment the boot's own run is saved (not a
// manual run of the same boot, not another boot's), also when the
// directory did not exist when it started, and ends at its bound with
// ErrWaitTimeout naming the boot, the directory and the bound.
func TestWaitBootRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results") // not there yet
	boot := strings.Repeat("ab", 16)
	save := func(boot, trigger string) {
		t.Helper()
		st, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		r := &record.Record{Schema: record.SchemaVersion, BootID: boot, Trigger: trigger, Start: now, End: now}
		if _, err := st.SaveRun(r); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		rec *record.Record
		err error
		at  time.Time
	}
	done := make(chan result, 1)
	go func() {
		r, err := (&Store{Dir: dir}).WaitBootRun(context.Background(), boot, 20*time.Second)
		done <- result{r, err, time.Now()}
	}()
	time.Sleep(1200 * time.Millisecond)
	save(strings.Repeat("cd", 16), record.TriggerBoot) // another boot
	save(boot, record.TriggerManual)                   // this boot, by hand
	time.Sleep(1200 * time.Millisecond)                // the directory is watched by now
	select {
	case r := <-done:
		t.Fatalf("returned before the boot's run was saved: %+v", r)
	default:
	}
	saved := time.Now()
	save(boot, record.TriggerBoot)
	var r result
	select {
	case r = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("no return 15 s after the boot's run was saved")
	}
	if r.err != nil || r.rec == nil || r.rec.BootID != boot || r.rec.Trigger != record.TriggerBoot {
		t.Fatalf("got %+v, %v", r.rec, r.err)
	}
	if lag := r.at.Sub(saved); lag > 250*time.Millisecond {
		t.Errorf("returned %s after the record was saved: not woken by inotify", lag)
	}

	other := strings.Repeat("ef", 16)
	start := time.Now()
	_, err := (&Store{Dir: dir}).WaitBootRun(context.Background(), other, 500*time.Millisecond)
	if !errors.Is(err, ErrWaitTimeout) || !strings.Contains(err.Error(), "no run of boot "+other+" saved in "+dir+" within 500ms") {
		t.Errorf("timeout: %v", err)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 3*time.Second {
		t.Errorf("a 500ms bound took %s", d)
	}

	// A cancelled context ends the wait with the context's error, at once.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if _, err := (&Store{Dir: dir}).WaitBootRun(ctx, other, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a cancel took %s to end the wait", d)
	}
}

// The store's names carry the boot: only a name of another boot's (or of
// no boot) is skipped unread; a name the store did not give is read.
func TestNameMayBeOfBoot(t *testing.T) {
	boot := "9a2cabc864ea4610a86df8b18d563bbb"
	for name, want := range map[string]bool{
		"run-s000000000001-20261207T233952.294910Z-9a2cabc8.json": true,
		"run-20261207T233952.294910Z-9a2cabc8.json":               true, // older name
		"run-s000000000002-20261207T233952.294910Z-0123abcd.json": false,
		"run-s000000000003-20261207T233952.294910Z-noboot.json":   false,
		"run-copied-by-hand.json":                                 true,
		"run-s000000000004-20261207T233952.294910Z-9A2CABC8.json": true, // not the store's: read it
	} {
		if got := nameMayBeOfBoot(name, boot); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	if !nameMayBeOfBoot("run-x-9a2cabc8.json", "9a2c") || nameMayBeOfBoot("run-x-9a2cabc8.json", "9a2d") {
		t.Error("a short boot prefix")
	}
}

// A results directory removed and made again while a wait is on (an
// admin clearing results) is watched again: the record saved into the new
// directory ends the wait.
func TestWaitBootRunDirectoryReplaced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	boot := strings.Repeat("ab", 16)
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		r, err := (&Store{Dir: dir}).WaitBootRun(context.Background(), boot, 20*time.Second)
		if err == nil && r == nil {
			err = errors.New("no record")
		}
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the wait looks for the directory once a second
	now := time.Now().UTC()
	if _, err := st.SaveRun(&record.Record{Schema: record.SchemaVersion, BootID: boot, Trigger: record.TriggerBoot, Start: now, End: now}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the wait did not see the record saved into the new directory")
	}
}

// BenchmarkBootRun: the look WaitBootRun makes when the boot's record
// arrives, in a store holding results.keep (100) records of earlier
// boots, each with 40 checks.
func BenchmarkBootRun(b *testing.B) {
	dir := b.TempDir()
	st, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	checks := make([]record.Result, 40)
	for i := range checks {
		checks[i] = record.Result{ID: fmt.Sprintf("area.check%d", i), Status: record.StatusPass, Message: strings.Repeat("evidence ", 60)}
	}
	start := time.Now().UTC().Add(-time.Hour)
	for i := range 100 {
		boot := fmt.Sprintf("%08x%s", i, strings.Repeat("0", 24))
		rec := &record.Record{Schema: record.SchemaVersion, BootID: boot, Trigger: record.TriggerBoot, Start: start.Add(time.Duration(i) * time.Second), End: start, Checks: checks}
		if _, err := st.SaveRun(rec); err != nil {
			b.Fatal(err)
		}
	}
	boot := fmt.Sprintf("%08x%s", 99, strings.Repeat("0", 24))
	b.ReportAllocs()
	for b.Loop() {
		rec, err := st.BootRun(boot)
		if err != nil || rec == nil {
			b.Fatal(rec, err)
		}
	}
}

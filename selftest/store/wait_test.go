package store

import (
	"context"
	"errors"
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

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

func saveRun(t *testing.T, dir, boot string, trigger string) {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rec := &record.Record{Schema: record.SchemaVersion, ToolVersion: "test", BootID: boot, Hostname: "h", Trigger: trigger, Start: now, End: now}
	rec.Summary = record.Summarise(nil)
	if _, err := st.SaveRun(rec); err != nil {
		t.Fatal(err)
	}
}

// results --wait-boot returns the moment the boot's own run is saved (not
// a manual run of the same boot, not another boot's), and exits 6 when
// none comes within --timeout.
func TestResultsWaitBoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results") // not there yet: no run was ever saved
	boot := strings.Repeat("ab", 16)
	dashed := boot[:8] + "-" + boot[8:12] + "-" + boot[12:16] + "-" + boot[16:20] + "-" + boot[20:]
	type result struct {
		code           int
		stdout, stderr string
		at             time.Time
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := realMain(context.Background(), []string{"results", "--wait-boot", dashed, "--timeout", "20s", "--format", "json", "--results-dir", dir}, &out, &errb)
		done <- result{code, out.String(), errb.String(), time.Now()}
	}()
	time.Sleep(1500 * time.Millisecond)
	saveRun(t, dir, strings.Repeat("cd", 16), record.TriggerBoot) // another boot
	saveRun(t, dir, boot, record.TriggerManual)                   // this boot, but by hand
	time.Sleep(1500 * time.Millisecond)                           // the directory is watched by now
	select {
	case r := <-done:
		t.Fatalf("returned before the boot's run was saved: %+v", r)
	default:
	}
	saved := time.Now()
	saveRun(t, dir, boot, record.TriggerBoot)
	var r result
	select {
	case r = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("no return 15s after the boot's run was saved")
	}
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lag := r.at.Sub(saved)
	if lag > 250*time.Millisecond {
		t.Errorf("returned %s after the record was saved: not woken by inotify", lag)
	}
	t.Logf("returned %s after the record was saved", lag)
	var runs []record.Record
	if err := json.Unmarshal([]byte(r.stdout), &runs); err != nil || len(runs) != 1 || runs[0].BootID != boot || runs[0].Trigger != record.TriggerBoot {
		t.Errorf("printed %s (%v)", r.stdout, err)
	}

	// Nothing for another boot: exit 6 after the bound, naming boot and bound.
	var out, errb bytes.Buffer
	start := time.Now()
	code := realMain(context.Background(), []string{"results", "--wait-boot", strings.Repeat("ef", 16), "--timeout", "700ms", "--results-dir", dir}, &out, &errb)
	if code != ExitTimeout || !strings.Contains(errb.String(), "no run of boot "+strings.Repeat("ef", 16)+" saved in "+dir+" within 700ms") {
		t.Errorf("timeout: exit %d, %s", code, errb.String())
	}
	if d := time.Since(start); d < 700*time.Millisecond || d > 3*time.Second {
		t.Errorf("a 700ms bound took %s", d)
	}
	for _, args := range [][]string{{"--wait-boot", "abc"}, {"--wait-boot", boot, "--timeout", "0s"}, {"--wait-boot", boot, "--boot", "ab"}} {
		if code := realMain(context.Background(), append([]string{"results", "--results-dir", dir}, args...), &out, &errb); code != ExitUsage {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

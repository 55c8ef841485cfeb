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

// results --wait-boot prints the boot's own run (the wait itself is
// selftest/store's, tested there), accepts the dashed boot id, and exits
// 6 when none comes within --timeout.
func TestResultsWaitBoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	boot := strings.Repeat("ab", 16)
	dashed := boot[:8] + "-" + boot[8:12] + "-" + boot[12:16] + "-" + boot[16:20] + "-" + boot[20:]
	saveRun(t, dir, boot, record.TriggerManual)
	saveRun(t, dir, boot, record.TriggerBoot)
	{
		var out, errb bytes.Buffer
		if code := realMain(context.Background(), []string{"results", "--wait-boot", dashed, "--timeout", "20s", "--format", "json", "--results-dir", dir}, &out, &errb); code != ExitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var runs []record.Record
		if err := json.Unmarshal(out.Bytes(), &runs); err != nil || len(runs) != 1 || runs[0].BootID != boot || runs[0].Trigger != record.TriggerBoot {
			t.Errorf("printed %s (%v)", out.String(), err)
		}
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

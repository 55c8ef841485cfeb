package main

import (
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// status shows each boot's run duration and how long systemd took to reach
// the default target, on the boot's one line.
func TestStatusShowsTimings(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	res := []record.Result{{ID: "host.boot", Criterion: "C1", Required: true, Status: record.StatusPass, Start: start}}
	for i, boot := range []*record.ManagerState{
		nil, // no systemd (a container, --sysroot): the run's time only
		{DefaultTarget: "multi-user.target", KernelUsec: 1_200_000, FinishUsec: 24_700_000},
	} {
		rec := &record.Record{Schema: 1, ID: "run-" + string(rune('a'+i)), BootID: "boot" + string(rune('a'+i)), Trigger: "boot",
			Start: start.Add(time.Duration(i) * time.Hour), End: start.Add(time.Duration(i)*time.Hour + 11840*time.Millisecond),
			Boot: boot, Checks: res, Summary: record.Summarise(res)}
		if _, err := st.SaveRun(rec); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ := cli(t, "status", "--results-dir", dir)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var newest, oldest string
	for _, l := range lines {
		switch {
		case strings.Contains(l, "boot bootb"):
			newest = l
		case strings.Contains(l, "boot boota"):
			oldest = l
		}
	}
	if !strings.HasSuffix(newest, "ran 11.8s, multi-user.target in 23.5s") {
		t.Errorf("newest boot line: %q", newest)
	}
	if !strings.HasSuffix(oldest, "ran 11.8s") {
		t.Errorf("boot without systemd: %q", oldest)
	}
}

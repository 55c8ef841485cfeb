package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/session"
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

// status starts with the current boot (issue 31): not judged yet, with
// the jobs the boot run waits for read from systemd over D-Bus (a fake
// systemd on a private bus); then, once the deadline run saved its
// record, judged by it, with the units the boot waited for.
func TestStatusStartsWithThisBoot(t *testing.T) {
	boot := session.ReadBootID()
	if boot == "" {
		t.Skip("no boot id on this machine")
	}
	units := testutil.FakeUnits()
	units["testbed-hang.service"] = map[string]map[string]any{"org.freedesktop.systemd1.Unit": {
		"LoadState": "loaded", "ActiveState": "activating", "After": []string{"basic.target"}, "InactiveExitTimestampMonotonic": uint64(0)}}
	units["atomic-selftest.service"] = map[string]map[string]any{"org.freedesktop.systemd1.Unit": {
		"LoadState": "loaded", "ActiveState": "inactive", "After": []string{"multi-user.target", "testbed-hang.service"}}}
	testutil.FakeSystemdJobs(t, nil, units, []testutil.FakeJob{
		{ID: 140, Unit: "atomic-selftest.service", Type: "start", State: "waiting"},
		{ID: 90, Unit: "testbed-hang.service", Type: "start", State: "running"},
	})
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := cli(t, "status", "--results-dir", dir)
	lines := strings.Split(out, "\n")
	if code != ExitOK || len(lines) < 4 || !strings.HasPrefix(lines[0], "This boot ("+record.Short(boot)+"): not judged yet, up ") ||
		lines[1] != "  the boot run is waiting for systemd's jobs:" ||
		!strings.HasPrefix(lines[2], "    testbed-hang.service start running for ") ||
		!strings.HasPrefix(lines[3], "    atomic-selftest.service start waiting for ") || !strings.HasSuffix(lines[3], " (after testbed-hang.service)") {
		t.Fatalf("exit %d, status before the deadline:\n%s", code, out)
	}

	_, out, _ = cli(t, "status", "--results-dir", dir, "--format", "json")
	var doc statusDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.ThisBoot.BootID != boot || doc.ThisBoot.JudgedBy != "" ||
		len(doc.ThisBoot.Jobs) != 2 || doc.ThisBoot.Jobs[0].Unit != "testbed-hang.service" || doc.ThisBoot.BootDeadline != "10m0s" {
		t.Fatalf("status json before the deadline (%v): %+v", err, doc.ThisBoot)
	}

	now := time.Now().UTC()
	res := []record.Result{{ID: "host.boot", Criterion: "C1", Required: true, Status: record.StatusFail, Start: now}}
	rec := &record.Record{Schema: 1, BootID: boot, Trigger: record.TriggerDeadline, Start: now, End: now, Checks: res, Summary: record.Summarise(res),
		Deadline: &record.Deadline{Bound: "3m0s", Jobs: []record.Job{{ID: 90, Unit: "testbed-hang.service", Type: "start", State: "running", ForSec: 170}}}}
	if _, err := st.SaveRun(rec); err != nil {
		t.Fatal(err)
	}
	code, out, _ = cli(t, "status", "--results-dir", dir)
	lines = strings.Split(out, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "This boot ("+record.Short(boot)+"): judged by run "+rec.ID+" (trigger deadline) at ") ||
		!strings.HasSuffix(lines[0], ": failed: host.boot") || lines[1] != "  it missed its deadline (3m0s after it started); it waited for:" ||
		lines[2] != "    testbed-hang.service start running for 2m50s" {
		t.Fatalf("exit %d, status after the deadline run:\n%s", code, out)
	}
	_, out, _ = cli(t, "status", "--results-dir", dir, "--format", "json")
	doc = statusDoc{}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.ThisBoot.JudgedBy != rec.ID || doc.ThisBoot.Trigger != record.TriggerDeadline ||
		doc.ThisBoot.OK == nil || *doc.ThisBoot.OK || doc.ThisBoot.Deadline == nil || len(doc.ThisBoot.Jobs) != 0 {
		t.Fatalf("status json after the deadline run (%v): %+v", err, doc.ThisBoot)
	}
}

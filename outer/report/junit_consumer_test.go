package report_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// TestDriverJUnitReadByJunitparser: the driver's junit.xml, as WriteFiles
// writes it, is read by junitparser (Debian's python3-junitparser, through
// selftest/format/testdata/junitparser/read.py): one suite per host and
// step, the step's own case first with its verdict, then the host's
// checks, and the counts we declare are the ones junitparser computes.
func TestDriverJUnitReadByJunitparser(t *testing.T) {
	const python = "/usr/bin/python3" // Debian's, where python3-junitparser is
	_, err := os.Stat(python)
	testutil.Need(t, "junitparser", err == nil, python+" is missing")
	if err := exec.Command(python, "-c", "import junitparser").Run(); err != nil {
		testutil.Need(t, "junitparser", false, "python3-junitparser is not installed")
	}
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}

	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	checks := []record.Result{
		{ID: "host.boot", Criterion: "C1", Required: true, Status: record.StatusPass, Start: start},
		{ID: "deployment.expected", Criterion: "C3", Required: true, Status: record.StatusFail, Start: start,
			Message: "booted 3f2a\nexpected <9c1e> & \"more\"", Evidence: []record.Evidence{{Name: "checksum", Expected: "9c1e", Seen: "3f2a"}}},
		{ID: "cloudinit.finished", Criterion: "C7", Required: true, Status: record.StatusSkip, Message: "not virtualised", Start: start},
		{ID: "syscontainer.atomic", Criterion: "C10", Status: record.StatusError, Message: "panic: \x1b[2J", Start: start},
	}
	rec := &record.Record{Schema: record.SchemaVersion, ID: "run-1", BootID: "b1", Hostname: "h1", Start: start, End: start.Add(time.Second),
		Checks: checks, Summary: record.Summarise(checks)}
	step := func(name, status string, r *record.Record) *report.StepReport {
		return &report.StepReport{Name: name, Criterion: "C3", Status: status, Message: name + " " + status, Start: start, DurationSec: 2, Record: r}
	}
	rep := &report.Report{Plan: "upgrade", Start: start, End: start.Add(time.Minute), Hosts: []*report.HostReport{
		{Host: "h1", Steps: []*report.StepReport{step("baseline", report.StepPass, rec), step("upgrade", report.StepFail, rec)}},
		{Host: "h2", Steps: []*report.StepReport{step("baseline", report.StepError, nil)}},
	}}
	dir := t.TempDir()
	if err := rep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, filepath.Join(root, "selftest/format/testdata/junitparser/read.py"), filepath.Join(dir, "junit.xml")).Output()
	if err != nil {
		t.Fatalf("junitparser on junit.xml: %v", err)
	}
	type counts struct{ Tests, Failures, Errors, Skipped int }
	var got struct {
		Root   string
		Totals counts
		Suites []struct {
			Name               string
			Declared, Computed counts
			Cases              []struct {
				Name    string
				Results []struct{ Kind, Message string }
			}
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Root != "testsuites" || len(got.Suites) != 3 {
		t.Fatalf("junitparser read <%s> with %d suites, want 3 (one per host and step):\n%s", got.Root, len(got.Suites), out)
	}
	want := []struct {
		name  string
		cases int
		step  string // the step case's result kind
		c     counts
	}{
		{"h1.baseline", 5, "", counts{5, 1, 1, 1}},
		{"h1.upgrade", 5, "Failure", counts{5, 2, 1, 1}},
		{"h2.baseline", 1, "Error", counts{1, 0, 1, 0}},
	}
	var total counts
	for i, w := range want {
		s := got.Suites[i]
		kind := ""
		if len(s.Cases) > 0 && len(s.Cases[0].Results) > 0 {
			kind = s.Cases[0].Results[0].Kind
		}
		if s.Name != w.name || len(s.Cases) != w.cases || kind != w.step || s.Declared != w.c || s.Computed != w.c {
			t.Errorf("suite %d: %q, %d cases, step %q, declared %+v, junitparser counts %+v; want %+v", i, s.Name, len(s.Cases), kind, s.Declared, s.Computed, w)
		}
		total.Tests, total.Failures, total.Errors = total.Tests+w.c.Tests, total.Failures+w.c.Failures, total.Errors+w.c.Errors
	}
	if got.Totals != total {
		t.Errorf("document totals %+v, want %+v", got.Totals, total)
	}
	// The check's message, newline and markup included, comes back whole.
	if r := got.Suites[1].Cases[2].Results; len(r) != 1 || r[0].Message != checks[1].Message {
		t.Errorf("deployment.expected read back as %+v", r)
	}
}

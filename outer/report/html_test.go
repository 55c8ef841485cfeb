package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// A host that never came back: its steps carry the console tail, and the
// page shows it; strings from the host are escaped.
func TestReportHTMLTailAndEscaping(t *testing.T) {
	start := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	rec := &record.Record{ID: "run-1", ToolVersion: "0.4.0", Start: start.Add(20 * time.Second), End: start.Add(31 * time.Second),
		Deployment: &record.Deployment{Version: "<b>28</b>", Checksum: "3f2a0123456789"},
		Transition: &record.Transition{Kind: record.TransitionUpgrade},
		Boot:       &record.ManagerState{KernelUsec: 1_000_000, FinishUsec: 24_500_000},
		Checks: []record.Result{{ID: "deployment.expected", Criterion: "C3", Required: true, Status: record.StatusFail,
			Message: `booted 3f2a, expected 9c1e <script>alert(1)</script>`, Evidence: []record.Evidence{{Name: "checksum", Expected: "9c1e", Seen: "3f2a"}}}}}
	rep := &Report{Plan: "default", Start: start, End: start.Add(time.Minute), Hosts: []*HostReport{
		{Host: "h<1>", Steps: []*StepReport{
			{Name: "rpm-ostree-upgrade", Criterion: "C3", Status: StepFail, Start: start, DurationSec: 32, Record: rec,
				Actions: []ActionReport{{Do: plan.ActRun, Status: StepPass, DurationSec: 5}, {Do: plan.ActReboot, Status: StepPass, DurationSec: 14}, {Do: plan.ActWaitSelftest, Status: StepPass, DurationSec: 13}}},
			{Name: "rpm-ostree-rollback", Criterion: "C4", Status: StepError, Start: start.Add(32 * time.Second), DurationSec: 28,
				Message: "reboot: no new boot within 25s", Tail: []string{"[  OK  ] Reached target Multi-User System.", "kernel panic <here>"},
				Actions: []ActionReport{{Do: plan.ActReboot, Status: StepError, DurationSec: 28}}},
		}}}}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"kernel panic &lt;here&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;", "expected <code>9c1e</code>, seen <code>3f2a</code>",
		"&lt;b&gt;28&lt;/b&gt; 3f2a012345… (upgrade)", "reboot: no new boot within 25s", "atomic-selftest 0.4.0 on h&lt;1&gt;",
		"kernel to the end of the boot 23.5s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if strings.Contains(out, "<script>") || strings.Contains(out, "<b>28") {
		t.Error("host strings reached the page unescaped")
	}
}

// md: a failing host's table and failures, passing hosts as names,
// and far below GitHub's 1 MiB step summary limit for a large run.
func TestReportMarkdown(t *testing.T) {
	start := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	mkHost := func(i int, fail bool) *HostReport {
		h := &HostReport{Host: fmt.Sprintf("host%03d", i), OK: !fail}
		for j, name := range []string{"baseline", "rpm-ostree-upgrade", "atomic-host-upgrade", "rpm-ostree-rollback", "atomic-host-rollback",
			"rpm-ostree-deploy", "atomic-host-deploy", "rpm-ostree-install", "atomic-host-install"} {
			s := &StepReport{Name: name, Criterion: fmt.Sprintf("C%d", 3+j/2), Status: StepPass, Start: start}
			var checks []record.Result
			for k := 1; k <= 10; k++ {
				st := record.StatusPass
				if fail {
					st = record.StatusFail
				}
				checks = append(checks, record.Result{ID: fmt.Sprintf("area.check%d", k), Criterion: fmt.Sprintf("C%d", k), Required: true, Status: st,
					Message: strings.Repeat("a | long message ", 40), Evidence: []record.Evidence{{Name: "x", Expected: "1", Seen: "2"}}})
			}
			if fail {
				s.Status, s.Message = StepFail, "wait-selftest: required checks failed"
			}
			s.Record = &record.Record{ID: "r", Checks: checks}
			h.Steps = append(h.Steps, s)
		}
		return h
	}
	small := &Report{Plan: "default", Start: start, End: start.Add(time.Hour), Hosts: []*HostReport{mkHost(0, false), mkHost(1, true)}}
	var buf bytes.Buffer
	if err := small.WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"## atomic-selftest-outer: plan default: **FAIL**", "Passed every step: host000.", "### host001: FAIL",
		"| step | status | C1 | C2 | C3 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("md lacks %q", want)
		}
	}
	if !strings.Contains(out, "| rpm-ostree-upgrade | fail | **FAIL** |") {
		t.Errorf("host001's upgrade row:\n%s", out)
	}
	if !strings.Contains(out, `check area.check1 (C1) **fail**: a \| long message`) || !strings.Contains(out, "; x: expected 1, seen 2") {
		t.Errorf("failure lines lack the escaped message or the evidence:\n%.2000s", out)
	}

	var hosts []*HostReport
	for i := range 1000 {
		hosts = append(hosts, mkHost(i, i%2 == 1))
	}
	large := &Report{Plan: "default", Start: start, End: start.Add(time.Hour), Hosts: hosts}
	buf.Reset()
	if err := large.WriteMarkdown(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("md of 1000 hosts, 500 failing every check: %d bytes", buf.Len())
	if buf.Len() > 256<<10 {
		t.Errorf("md of a large run is %d bytes, want well under 1 MiB", buf.Len())
	}
	if !strings.Contains(buf.String(), "460 more failing host(s)") || !strings.Contains(buf.String(), "more failure line(s) left out") {
		t.Error("the large report does not say what it left out")
	}
}

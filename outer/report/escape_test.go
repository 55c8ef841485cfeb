package report

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// The criteria table (stdout and criteria.txt) shows a host's strings
// escaped: a host name, a message and a check status with ESC and CR in
// them cannot rewrite what the operator reads.
func TestTableEscapesHostStrings(t *testing.T) {
	rep := &Report{Plan: "default", Hosts: []*HostReport{{Host: "evil\x1b]0;owned\x07", Steps: []*StepReport{{
		Name: "upgrade", Criterion: "C3", Status: StepFail,
		Message: "collect: booted 28.1\r28.2 ok\x1b[1A",
		Record:  &record.Record{Checks: []record.Result{{ID: "x", Criterion: "C9\x1b[2K", Status: "pass\rFAIL"}}},
	}}}}}
	dir := t.TempDir()
	if err := rep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "criteria.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(out), "\x1b\r\x07") {
		t.Errorf("control characters in criteria.txt:\n%q", out)
	}
	for _, want := range []string{`evil\x1b]0;owned\a: FAIL`, `upgrade: collect: booted 28.1\r28.2 ok\x1b[1A`, `C9\x1b[2K`, `pass\rFAIL`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("criteria.txt lacks %q:\n%s", want, out)
		}
	}
}

// hostileReport is what hostile hosts can make a report hold (issue 24
// items 4 and 9): a criterion string with Markdown and HTML in it, ESC and
// CR in every kind of host string, a check with 40,000 evidence entries,
// one host reporting 2,000 criteria, and a thousand more hosts.
func hostileReport() *Report {
	evil := &record.Record{Checks: []record.Result{{ID: "x\x1b[2J", Criterion: "C1 | <img src=x onerror=alert(1)> [phish](http://e.invalid)", Status: record.StatusFail,
		Message: "booted\rPASS \x1b]0;owned\x07"}}}
	for i := range 40000 {
		evil.Checks[0].Evidence = append(evil.Checks[0].Evidence, record.Evidence{Name: "e\x1b[1A", Expected: strings.Repeat("x", 300), Seen: "y" + string(rune('a'+i%26))})
	}
	many := &record.Record{}
	for i := range 2000 {
		many.Checks = append(many.Checks, record.Result{ID: "c", Criterion: "Z" + strings.Repeat("q", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676)), Status: record.StatusPass})
	}
	rep := &Report{Plan: "default", Hosts: []*HostReport{
		{Host: "evil\x1b]0;owned\x07", Steps: []*StepReport{{Name: "upgrade\x1b[31m", Criterion: "C3", Status: StepFail, Message: "collect\r\x1b[1A", Record: evil}}},
		{Host: "many", Steps: []*StepReport{{Name: "baseline", Status: StepPass, Record: many}}},
	}}
	for i := range 1000 {
		rep.Hosts = append(rep.Hosts, &HostReport{Host: "h" + strings.Repeat("0", 3) + string(rune('a'+i%26)), OK: true,
			Steps: []*StepReport{{Name: "baseline", Status: StepPass, Record: &record.Record{Checks: []record.Result{{ID: "a", Criterion: "C1", Status: record.StatusPass}}}}}})
	}
	return rep
}

// report.md and report.html of hostile hosts: no control character gets
// through, a criterion's markup is inert, the columns are bounded with
// "… N more", report.md stays within GitHub's 1 MiB and report.html within
// a size an operator's browser opens. Before the fix: the criterion came
// out verbatim in the Markdown header, ESC bytes passed into both files,
// the evidence line grew past 6 MB and report.html reached 275 MB.
func TestHostileReportViews(t *testing.T) {
	dir := t.TempDir()
	rep := hostileReport()
	if err := rep.writeViews(dir); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for name, b := range map[string][]byte{"report.md": md, "report.html": html} {
		if i := strings.IndexAny(string(b), "\x1b\r\x07"); i >= 0 {
			t.Errorf("%s holds a control character at %d: %q", name, i, b[max(i-40, 0):min(i+40, len(b))])
		}
	}
	if len(md) > 1<<20 {
		t.Errorf("report.md is %d bytes, over 1 MiB", len(md))
	}
	if len(html) > 16<<20 {
		t.Errorf("report.html is %d bytes", len(html))
	}
	if regexp.MustCompile(`[^\\]<img|[^\\]\[phish`).Match(md) {
		t.Errorf("the criterion's markup is live in report.md:\n%s", md[:min(len(md), 2000)])
	}
	if !strings.Contains(string(md), `C1 \| \<img src=x onerror=alert(1)\> \[phish\](http://e.invalid)`) {
		t.Errorf("report.md does not show the criterion escaped:\n%s", md[:min(len(md), 2000)])
	}
	if !strings.Contains(string(md), "more |") || !strings.Contains(string(html), "more</th>") {
		t.Errorf("no '… N more' column in the tables")
	}
	if !strings.Contains(string(md), "… more evidence in report.html") {
		t.Errorf("report.md's evidence line is not cut")
	}
	var table strings.Builder
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if table.Len() > 4<<20 || !strings.Contains(table.String(), "more criteria reported by the hosts are not shown") {
		t.Errorf("criteria table: %d bytes, columns bounded: %v", table.Len(), strings.Contains(table.String(), "more criteria"))
	}
}

func BenchmarkHostileReportViews(b *testing.B) {
	rep := hostileReport()
	dir := b.TempDir()
	for b.Loop() {
		if err := rep.writeViews(dir); err != nil {
			b.Fatal(err)
		}
	}
}

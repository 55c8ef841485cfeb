package junit

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Each status lands in the element junit-10.xsd gives it, and the suite
// counts it; the document reads back as written.
func TestFromResultAndWrite(t *testing.T) {
	s := Suite{Name: "h.step"}
	for _, r := range []record.Result{
		{ID: "a.pass", Status: record.StatusPass, Message: "ok"},
		{ID: "a.fail", Status: record.StatusFail, Message: "bad", Evidence: []record.Evidence{{Name: "x", Expected: "1", Seen: "2"}}},
		{ID: "a.blocked", Status: record.StatusBlocked},
		{ID: "a.error", Status: record.StatusError},
		{ID: "a.skip", Status: record.StatusSkip, Message: "no docker"},
	} {
		s.Add(FromResult("c", r))
	}
	if s.Tests != 5 || s.Failures != 2 || s.Errors != 1 || s.Skipped != 1 {
		t.Fatalf("counts %d/%d/%d/%d", s.Tests, s.Failures, s.Errors, s.Skipped)
	}
	if f := s.Cases[1].Failure; f == nil || f.Type != "fail" || f.Text != "x: expected 1, seen 2\n" {
		t.Errorf("failure %+v", f)
	}
	var b strings.Builder
	if err := Write(&b, Suites{Name: "run", Suites: []Suite{s}}); err != nil {
		t.Fatal(err)
	}
	var back Suites
	if err := xml.Unmarshal([]byte(b.String()), &back); err != nil || len(back.Suites) != 1 || len(back.Suites[0].Cases) != 5 || back.Suites[0].Cases[4].Skipped == nil {
		t.Fatalf("read back %+v %v", back, err)
	}
	if !strings.HasPrefix(b.String(), xml.Header) {
		t.Error("no XML header")
	}
}

package record

import "testing"

// Each group's verdict follows from its own required checks: a failing
// wanted check leaves its group passing, a failing required site check
// fails the site group and the run, not the release criteria.
func TestSummariseGroups(t *testing.T) {
	s := Summarise([]Result{
		{ID: "host.boot", Criterion: "C1", Required: true, Status: StatusPass},
		{ID: "runtime.run", Criterion: "C8", Required: false, Status: StatusFail},
		{ID: "host.journal", Criterion: "HOST", Required: true, Status: StatusSkip},
		{ID: "site.10-app", Criterion: "SITE", Required: true, Status: StatusFail},
		{ID: "site.policy", Criterion: "SITE", Required: true, Status: StatusPass},
	})
	want := []GroupSummary{
		{Group: GroupRelease, Total: 2, Bad: 1, OK: true},
		{Group: GroupHost, Total: 1, Bad: 0, OK: true},
		{Group: GroupSite, Total: 2, Bad: 1, OK: false},
	}
	if len(s.Groups) != len(want) {
		t.Fatalf("groups: %+v", s.Groups)
	}
	for i := range want {
		if s.Groups[i] != want[i] {
			t.Errorf("group %d: %+v, want %+v", i, s.Groups[i], want[i])
		}
	}
	if s.OK {
		t.Error("a failing required site check must fail the run")
	}
	if got := s.GroupLine(); got != "release criteria PASS, host health PASS, site checks FAIL" {
		t.Errorf("line: %q", got)
	}
	if got := Summarise([]Result{{ID: "host.boot", Criterion: "C1", Status: StatusPass}}).GroupLine(); got != "release criteria PASS" {
		t.Errorf("release only: %q", got)
	}
}

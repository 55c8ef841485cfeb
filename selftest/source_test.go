package selftest

import (
	"context"
	"strings"
	"testing"
)

// Checks a source finds are validated as registered ones; a bad one is
// named and left out, the others run.
func TestForRun(t *testing.T) {
	run := func(context.Context, *T) {}
	r := &Registry{}
	r.Register(&Check{ID: "site.policy", Criterion: "SITE", Description: "d", Run: run})
	r.RegisterSource(Source{Name: "check.d", Checks: func(rc *RunContext) []*Check {
		return []*Check{
			{ID: "site.10-app", Criterion: "SITE", Description: "d", Run: run},
			{ID: "site.greenboot.01-dns", Criterion: "SITE", Description: "d", Run: run},
			{ID: "site.Bad_Name", Criterion: "SITE", Description: "d", Run: run},
			{ID: "site.policy", Criterion: "SITE", Description: "d", Run: run},
			{ID: "site.nocrit", Criterion: "C11", Description: "d", Run: run},
			{ID: "site.norun", Criterion: "SITE", Description: "d"},
		}
	}})
	got, problems := r.ForRun(NewRunContext(NewHost("/"), nil))
	var ids []string
	for _, c := range got.All() {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, " ") != "site.10-app site.greenboot.01-dns site.policy" {
		t.Errorf("checks: %v", ids)
	}
	want := []string{
		`check.d: check id "site.Bad_Name" is not of the form area.name`,
		`check.d: check "site.policy" is already registered`,
		`check.d: check "site.nocrit": criterion "C11" is not one of selftest.Criteria`,
		`check.d: check "site.norun" has no Run function`,
	}
	if len(problems) != len(want) {
		t.Fatalf("problems: %q", problems)
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d: %q, want %q", i, problems[i], w)
		}
	}
	// The registry asked is unchanged: the found checks are the run's.
	if n := len(r.All()); n != 1 {
		t.Errorf("the registry now holds %d checks", n)
	}
}

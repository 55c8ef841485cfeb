package outer

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// A plain ostree host driven with the default plan: the preflight finds no
// rpm-ostree and no atomic CLI, the baseline is still collected (with
// ostree admin status), and each rpm-ostree or atomic step is not run,
// with the reason and the plan that fits, instead of failing on a
// command-not-found.
func TestPreflightNotApplicableSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.Missing = []string{"rpm-ostree", "atomic"} })
	opts := simOptions(t, DefaultPlan())
	opts.PlanHint = func(plan string) string { return "use the " + plan + " plan" }
	var mu sync.Mutex
	var infos []string
	opts.OnEvent = func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Status == StatusInfo {
			infos = append(infos, e.Step+": "+e.Message)
		}
	}
	rep := Run(context.Background(), simMachines(t, f), opts)
	logReport(t, rep)
	hr := rep.Hosts[0]
	if rep.OK || hr.OK {
		t.Errorf("the run passed although no step of the plan could run")
	}
	if hr.Preflight == nil || !hr.Preflight.Has("ostree") || hr.Preflight.Has("rpm-ostree") || hr.Preflight.Selftest == "" {
		t.Errorf("preflight %+v", hr.Preflight)
	}
	if len(infos) != 1 || infos[0] != "preflight: deployment tools: ostree; container engines: docker; self-test: atomic-selftest sim (go1.26, linux/amd64)" {
		t.Errorf("preflight lines %q", infos)
	}
	if b := hr.Steps[0]; b.Status != StepPass || b.After == nil {
		t.Errorf("baseline %s: %s (after %+v)", b.Status, b.Message, b.After)
	}
	for _, s := range hr.Steps[1:] {
		tool := "rpm-ostree"
		if strings.HasPrefix(s.Name, "atomic-host") {
			tool = "atomic"
		}
		if want := "not applicable on this host: no " + tool + " — use the ostree plan"; s.Status != StepNotRun || s.Message != want {
			t.Errorf("step %s: %s %q, want not-run %q", s.Name, s.Status, s.Message, want)
		}
	}
	for _, c := range f.Hosts[0].Commands() {
		if strings.HasPrefix(c, "rpm-ostree") || strings.HasPrefix(c, "atomic ") {
			t.Errorf("ran %q on a host without it", c)
		}
	}
}

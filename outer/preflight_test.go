package outer

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
)

// A plain ostree host driven with the default plan: the preflight finds no
// rpm-ostree and no atomic CLI, and the host fails once, in the baseline,
// with the sentence that names the missing tool and the plan that fits;
// every later step is not run (no command-not-found, no eight copies).
func TestPreflightMisfitSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.Missing = []string{"rpm-ostree", "atomic"} })
	opts := simOptions(t, plan.Default())
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
	if rep.OK || hr.OK || hr.Plan != "default" {
		t.Errorf("ok %v/%v, plan %q: want a failed run of the default plan", rep.OK, hr.OK, hr.Plan)
	}
	if hr.Preflight == nil || !hr.Preflight.Has("ostree") || hr.Preflight.Has("rpm-ostree") || hr.Preflight.Selftest == "" {
		t.Errorf("preflight %+v", hr.Preflight)
	}
	if len(infos) != 1 || infos[0] != "preflight: deployment tools: ostree; container engines: docker; self-test: atomic-selftest sim (go1.26, linux/amd64)" {
		t.Errorf("preflight lines %q", infos)
	}
	if b, want := hr.Steps[0], "wait-up: preflight: not applicable on this host: no rpm-ostree — use the ostree plan"; b.Status != report.StepFail || b.Message != want {
		t.Errorf("baseline %s %q, want fail %q", b.Status, b.Message, want)
	}
	for _, s := range hr.Steps[1:] {
		if s.Status != report.StepNotRun {
			t.Errorf("step %s: %s %q, want not-run", s.Name, s.Status, s.Message)
		}
	}
	for _, c := range f.Hosts[0].Commands() {
		if strings.HasPrefix(c, "rpm-ostree") || strings.HasPrefix(c, "atomic ") {
			t.Errorf("ran %q on a host without it", c)
		}
	}
}

// The default plan on an rpm-ostree host without the atomic CLI reports
// each atomic host step not applicable, with the plan that fits. (Its
// rpm-ostree-deploy fails there: the older version it deploys is the
// first of two upgrades, and atomic-host-upgrade made the second; the
// rpm-ostree plan that auto picks orders its steps so that one upgrade
// suffices.)
func TestPreflightNoAtomicSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.Missing = []string{"atomic"} })
	opts := simOptions(t, plan.Default())
	opts.PlanHint = func(plan string) string { return "use the " + plan + " plan" }
	rep := Run(context.Background(), simMachines(t, f), opts)
	logReport(t, rep)
	for _, s := range rep.Hosts[0].Steps {
		if strings.HasPrefix(s.Name, "atomic-host") {
			if want := "not applicable on this host: no atomic — use the rpm-ostree plan"; s.Status != report.StepNotRun || s.Message != want {
				t.Errorf("step %s: %s %q, want not-run %q", s.Name, s.Status, s.Message, want)
			}
		} else if s.Name != "rpm-ostree-deploy" && s.Status != report.StepPass {
			t.Errorf("step %s: %s %q", s.Name, s.Status, s.Message)
		}
	}
}

// The auto profile gives each host of one run the plan that fits it: the
// default plan where rpm-ostree and atomic exist, the rpm-ostree plan
// (no atomic host steps, not failed ones) where atomic does not, the
// ostree plan on plain ostree; every host passes and every report names
// the host's plan.
func TestAutoPlanPerHostSim(t *testing.T) {
	missing := [][]string{nil, {"atomic"}, {"rpm-ostree", "atomic"}}
	f := newSimFleet(t, 3, func(i int, h *simHost) { h.Missing = missing[i] })
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, plan.Auto()))
	logReport(t, rep)
	if !rep.OK || rep.Plan != "auto" {
		t.Errorf("ok %v, plan %q", rep.OK, rep.Plan)
	}
	for i, want := range []*plan.Plan{plan.Default(), plan.RpmOstree(), plan.Ostree()} {
		hr := rep.Hosts[i]
		var names, wantNames []string
		for _, s := range hr.Steps {
			names = append(names, s.Name)
		}
		for _, s := range want.Steps {
			wantNames = append(wantNames, s.Name)
		}
		if hr.Plan != want.Name || !slices.Equal(names, wantNames) {
			t.Errorf("host %d: plan %q steps %v, want %q %v", i, hr.Plan, names, want.Name, wantNames)
		}
	}
	var table, junit strings.Builder
	rep.WriteTable(&table)
	rep.WriteJUnit(&junit)
	for _, p := range []string{"default", "rpm-ostree", "ostree"} {
		if !strings.Contains(table.String(), ": PASS (plan "+p+")") {
			t.Errorf("criteria table does not name plan %s:\n%s", p, table.String())
		}
		if !strings.Contains(junit.String(), `<property name="plan" value="`+p+`">`) {
			t.Errorf("junit.xml does not name plan %s", p)
		}
	}
}

// A bootc host in auto mode gets the bootc plan: bootc upgrade to the
// image the driver builds (after bootc switch points the host at it),
// bootc switch to the image booted before, bootc rollback back to the
// upgrade, each judged by bootc status before and after and by the next
// boot's self-test; an rpm-ostree host of the same run gets its own plan.
func TestAutoPlanBootcSim(t *testing.T) {
	f := newSimFleet(t, 2, func(i int, h *simHost) { h.Bootc = i == 0 })
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, plan.Auto()))
	logReport(t, rep)
	if !rep.OK {
		t.Errorf("the run failed")
	}
	if p := rep.Hosts[0].Plan; p != "bootc" {
		t.Errorf("bootc host: plan %q", p)
	}
	if p := rep.Hosts[1].Plan; p != "default" {
		t.Errorf("rpm-ostree host: plan %q", p)
	}
	var ran []string
	for _, c := range f.Hosts[0].Commands() {
		if strings.HasPrefix(c, "bootc ") && !strings.HasPrefix(c, "bootc status") || strings.HasPrefix(c, "podman build") || strings.HasPrefix(c, "rpm-ostree") {
			ran = append(ran, c)
		}
	}
	want := []string{"bootc image copy-to-storage",
		"podman build --tag " + family.BootcUpgradeImage + " /var/tmp/atomic-selftest-outer.bootc.1",
		"bootc switch --transport containers-storage " + family.BootcUpgradeImage,
		"podman build --tag " + family.BootcUpgradeImage + " /var/tmp/atomic-selftest-outer.bootc.2",
		"bootc upgrade",
		"bootc switch --transport containers-storage localhost/bootc",
		"bootc rollback"}
	if !slices.Equal(ran, want) {
		t.Errorf("commands %q\nwant %q", ran, want)
	}
	steps := rep.Hosts[0].Steps
	if len(steps) != 4 {
		t.Fatalf("%d steps", len(steps))
	}
	up, sw, rb := steps[1], steps[2], steps[3]
	if up.After == nil || up.After.Version != "28.20180515.1.selftest.2" || up.After.ImageReference != "containers-storage:"+family.BootcUpgradeImage {
		t.Errorf("after bootc-upgrade: %+v", up.After)
	}
	if sw.After == nil || sw.After.ImageReference != "containers-storage:localhost/bootc" || sw.After.Version != "28.20180515.1" {
		t.Errorf("after bootc-switch: %+v", sw.After)
	}
	if rb.After == nil || rb.After.Checksum != up.After.Checksum || rb.Expected == nil || rb.Expected.Checksum != up.After.Checksum {
		t.Errorf("after bootc-rollback: %+v (expected %+v), want the upgrade %+v", rb.After, rb.Expected, up.After)
	}
}

// The upgrade source needs no writable /sysroot: on hosts that refuse
// writes there, the driver commits into its source repository under /var
// (the simulated host refuses an ostree commit into /ostree/repo, as the
// real one does) and points the origin at it with ostree admin set-origin,
// and the ostree and rpm-ostree plans pass in auto mode.
func TestUpgradeSourceReadOnlySysrootSim(t *testing.T) {
	missing := [][]string{{"atomic"}, {"rpm-ostree", "atomic"}}
	f := newSimFleet(t, 2, func(i int, h *simHost) { h.Missing, h.ReadOnlySysroot = missing[i], true })
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, plan.Auto()))
	logReport(t, rep)
	if !rep.OK {
		t.Errorf("the run failed")
	}
	for i, h := range f.Hosts {
		var sets int
		for _, c := range h.Commands() {
			if strings.HasPrefix(c, "ostree admin set-origin") {
				sets++
				if want := "ostree admin set-origin --set=gpg-verify=false atomic-selftest file://" + family.SourceRepo + " atomic-selftest/upgrade"; c != want {
					t.Errorf("host %d ran %q, want %q", i, c, want)
				}
			}
		}
		if sets != 1 {
			t.Errorf("host %d: %d set-origin calls, want 1 (the origin keeps pointing at the upgrade ref)", i, sets)
		}
		if up := rep.Hosts[i].Steps[1]; up.After == nil || up.After.Refspec != "atomic-selftest:atomic-selftest/upgrade" {
			t.Errorf("host %d after %s: %+v", i, up.Name, up.After)
		}
	}
}

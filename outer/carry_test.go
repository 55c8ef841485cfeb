package outer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
)

// assertion is step s's assertion name, or fails the test.
func assertion(t *testing.T, s *report.StepReport, name string) report.Assertion {
	t.Helper()
	for _, a := range s.Assertions {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("step %s has no assertion %s (it has %+v)", s.Name, name, s.Assertions)
	return report.Assertion{}
}

// The ostree plan on a plain ostree host (no rpm-ostree): the /etc file,
// the user and the /var file written before the upgrade and the deploy
// are there after them; those written before the rollback are gone after
// it (the deployment rolled back to existed before them), the /var files
// of every mark are kept; every step leaves two deployments and the
// cleanup one; layering is not applicable, with the reason, and the host
// passes.
func TestCarryOverOstreeSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.Missing = []string{"rpm-ostree", "atomic"} })
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, plan.Ostree()))
	logReport(t, rep)
	if !rep.OK {
		t.Fatal("ostree plan failed")
	}
	hr := rep.Hosts[0]
	for _, tc := range []struct {
		step    string
		present bool
		vars    string
	}{
		{"ostree-upgrade", true, "1 /var file(s)"},
		{"ostree-deploy", true, "2 /var file(s)"},
		{"ostree-rollback", false, "3 /var file(s)"},
	} {
		s := stepByName(t, hr, tc.step)
		want := map[bool]string{true: " present on ", false: " gone on "}[tc.present]
		for _, n := range []string{"carry.etc", "carry.user"} {
			if a := assertion(t, s, n); a.Status != report.AssertPass || !strings.Contains(a.Message, want) {
				t.Errorf("step %s: %s %s %q, want pass with %q", s.Name, n, a.Status, a.Message, want)
			}
		}
		if a := assertion(t, s, "carry.var"); a.Status != report.AssertPass || !strings.HasPrefix(a.Message, tc.vars) {
			t.Errorf("step %s: carry.var %s %q, want pass for %s", s.Name, a.Status, a.Message, tc.vars)
		}
		if a := assertion(t, s, "carry.selinux"); a.Status != report.AssertNA || a.Message != "SELinux is off on this host: no SELinux context on the host's files (stat -c %C: exit 1, No data available)" {
			t.Errorf("step %s: carry.selinux %+v, want n/a: SELinux is off", s.Name, a)
		}
		if a := assertion(t, s, "deployments"); a.Status != report.AssertPass || !strings.HasPrefix(a.Message, "2 deployment(s)") {
			t.Errorf("step %s: deployments %+v, want 2", s.Name, a)
		}
	}
	if rb := stepByName(t, hr, "ostree-rollback"); !strings.Contains(assertion(t, rb, "carry.user").Message, "existed before the mark") {
		t.Errorf("rollback: %+v", rb.Assertions)
	}
	if a := assertion(t, stepByName(t, hr, "ostree-cleanup"), "deployments"); a.Status != report.AssertPass || !strings.HasPrefix(a.Message, "1 deployment(s)") {
		t.Errorf("cleanup: deployments %+v, want 1", a)
	}
	lay := stepByName(t, hr, "layering-removal")
	if lay.Status != report.StepNotApplicable || lay.Message != "not applicable on this host: no rpm-ostree (layering-removal needs the rpm-ostree family; plan ostree is for ostree hosts)" {
		t.Errorf("layering-removal %s %q, want n/a naming rpm-ostree", lay.Status, lay.Message)
	}
	if strings.Contains(strings.Join(f.Hosts[0].Commands(), "\n"), "rpm-ostree uninstall") {
		t.Error("the n/a step ran its command")
	}
	// The reports show them: a JUnit test case per assertion (n/a as
	// skipped, never passed), report.html's cells, the table's line.
	dir := t.TempDir()
	if err := rep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	for _, want := range []string{`<testcase name="carry.etc" classname="atomic-selftest-outer.host00.ostree-rollback"`,
		`<testcase name="carry.selinux" classname="atomic-selftest-outer.host00.ostree-upgrade" time="0.000">` + "\n      <skipped message=\"SELinux is off",
		`<testcase name="layering-removal" classname="atomic-selftest-outer.host00" time="0.000">` + "\n      <skipped message=\"not applicable on this host: no rpm-ostree"} {
		if !strings.Contains(string(x), want) {
			t.Errorf("junit.xml lacks %s", want)
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !strings.Contains(string(html), `data-step="ostree-rollback" data-assertion="carry.user">carry.user pass</a>`) {
		t.Error("report.html has no cell for the rollback's carry.user")
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !strings.Contains(string(md), "The driver's assertions (carry-over, deployment counts): 13 pass, 3 n/a.\n- n/a carry.selinux: SELinux is off on this host: no SELinux context on the host's files (stat -c %C: exit 1, No data available)\n\nPassed") {
		t.Errorf("report.md:\n%s", md)
	}
	crit, _ := os.ReadFile(filepath.Join(dir, "criteria.txt"))
	if !strings.Contains(string(crit), "layering-removal: not applicable on this host: no rpm-ostree") {
		t.Errorf("criteria.txt:\n%s", crit)
	}
}

// The rpm-ostree plan's layering removal: the package is gone from the
// next deployment and the booted one; the rebase to the ref the host
// followed before the driver's upgrade source and back; the cleanup
// leaves one deployment.
func TestLayeringRemovalRebaseSim(t *testing.T) {
	f := newSimFleet(t, 1, nil)
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, plan.RpmOstree()))
	logReport(t, rep)
	if !rep.OK {
		t.Fatal("rpm-ostree plan failed")
	}
	un := stepByName(t, rep.Hosts[0], "rpm-ostree-uninstall")
	if un.After == nil || len(un.After.LayeredPackages) != 0 || un.Expected == nil || strings.Join(un.Expected.AbsentPackages, " ") != "htop" {
		t.Errorf("uninstall: booted %+v, expected %+v; want htop gone", un.After, un.Expected)
	}
	for step, want := range map[string]string{"rpm-ostree-rebase": "fedora-atomic:fedora/28/x86_64/atomic-host", "rpm-ostree-rebase-back": "atomic-selftest:atomic-selftest/upgrade"} {
		s := stepByName(t, rep.Hosts[0], step)
		if s.After == nil || s.After.Refspec != want || s.Before.Refspec == want {
			t.Errorf("%s: before %+v, after %+v; want it to follow %s", step, s.Before, s.After, want)
		}
		if a := assertion(t, s, "carry.etc"); a.Status != report.AssertPass || !strings.Contains(a.Message, "present on") {
			t.Errorf("%s: %+v", step, a)
		}
	}
	if a := assertion(t, stepByName(t, rep.Hosts[0], "rpm-ostree-cleanup"), "deployments"); a.Status != report.AssertPass || !strings.HasPrefix(a.Message, "1 deployment(s)") {
		t.Errorf("cleanup: %+v", a)
	}
}

// What fails: a release whose tmpfiles.d rule removes the directory the
// admin keeps data in fails its step with the lost file named (and, with
// expect_var_lost, is caught); a broken /etc merge fails the upgrade's
// carry.etc and carry.user; a wrong deployment count fails with both
// counts.
func TestCarryOverFailuresSim(t *testing.T) {
	const dir = "/var/lib/admin-data"
	withDir := func(expectLost bool) *plan.Plan {
		p := plan.Ostree()
		p.Steps = p.Steps[:2]
		p.Steps[1].Actions[1].VarDir = dir
		p.Steps[1].ExpectVarLost = expectLost
		return p
	}
	for _, tc := range []struct {
		name  string
		fault func(h *simHost)
		plan  *plan.Plan
		want  string
	}{
		{"tmpfiles removes the admin's directory", func(h *simHost) {
			h.RemoveDirVersion, h.RemoveDir = "28.20180515.1.selftest.1", dir
		}, withDir(false), "check-marks: carry.var fail: lost " + dir + "/carry-02-ostree-upgrade (marked before step ostree-upgrade) (expected the files the marks wrote, unchanged; seen stat: cannot statx '" + dir + "/carry-02-ostree-upgrade': No such file or directory)"},
		{"expected loss not happening", nil, withDir(true), "check-marks: carry.var fail: the step's deployment was to remove the step's /var file (expect_var_lost), but it is still there"},
		{"no /etc merge", func(h *simHost) { h.EtcNotMerged = true }, withDir(false), "check-marks: carry.etc fail: /etc/atomic-selftest-outer/carry-02-ostree-upgrade.conf gone on "},
		{"deployment count", nil, func() *plan.Plan { p := withDir(false); p.Steps[1].Deployments = 3; return p }(),
			"deployments: deployments fail: 2 deployment(s): "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSimFleet(t, 1, func(_ int, h *simHost) {
				if tc.fault != nil {
					tc.fault(h)
				}
			})
			rep := Run(context.Background(), simMachines(t, f), simOptions(t, tc.plan))
			logReport(t, rep)
			s := rep.Hosts[0].Steps[1]
			if rep.OK || s.Status != report.StepFail || !strings.HasPrefix(s.Message, tc.want) {
				t.Errorf("step %s %s %q, want it to fail with %q", s.Name, s.Status, s.Message, tc.want)
			}
			// The failing assertion and its evidence in report.md and
			// report.html's failures.
			dir := t.TempDir()
			if err := rep.WriteFiles(dir); err != nil {
				t.Fatal(err)
			}
			md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
			html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
			if !strings.Contains(string(md), "ostree-upgrade: assertion ") || !strings.Contains(string(md), " **fail**: ") ||
				!strings.Contains(string(html), `<tr class="fail"><td>`) {
				t.Errorf("report.md or report.html lack the failing assertion:\n%s", md)
			}
		})
	}
	// The loss the plan expects is caught, names the file, and passes.
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.RemoveDirVersion, h.RemoveDir = "28.20180515.1.selftest.1", dir })
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, withDir(true)))
	logReport(t, rep)
	s := rep.Hosts[0].Steps[1]
	if a := assertion(t, s, "carry.var"); !rep.OK || a.Status != report.AssertPass || !strings.HasPrefix(a.Message, "caught: the step's deployment removed "+dir+"/carry-02-ostree-upgrade") {
		t.Errorf("expected loss: ok %v, %+v", rep.OK, a)
	}
	// The /etc file and the user of a mark whose /var file was lost are
	// judged all the same (the VM's first run of this left them out).
	for _, n := range []string{"carry.etc", "carry.user", "carry.selinux"} {
		if a := assertion(t, s, n); a.Status == report.AssertFail || n == "carry.selinux" && !strings.HasPrefix(a.Message, "SELinux is off on this host: ") {
			t.Errorf("expected loss: %+v", a)
		}
	}
}

// Two hosts cloned from one image without clearing /etc/machine-id share
// it: the run fails on the cross-host assertion naming both, in
// report.json, junit.xml, criteria.txt and report.md; hosts with their
// own pass it.
func TestMachineIDCrossHostSim(t *testing.T) {
	base := plan.Ostree()
	base.Steps = base.Steps[:1]
	f := newSimFleet(t, 3, func(i int, h *simHost) {
		if i > 0 {
			h.MachineID = "0123456789abcdef0123456789abcdef"
		}
	})
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, base))
	if rep.OK || len(rep.CrossHost) != 1 {
		t.Fatalf("ok %v, cross-host %+v: want a failing machine-id assertion", rep.OK, rep.CrossHost)
	}
	a := rep.CrossHost[0]
	if a.Name != "machine-id.unique" || a.Status != report.AssertFail || a.Message != "host01, host02 share 0123456789abcdef0123456789abcdef" {
		t.Errorf("cross-host %+v", a)
	}
	if !rep.Hosts[0].OK || rep.Hosts[0].MachineID == "" {
		t.Errorf("host00: ok %v, machine-id %q", rep.Hosts[0].OK, rep.Hosts[0].MachineID)
	}
	dir := t.TempDir()
	if err := rep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"junit.xml":    `<testcase name="machine-id.unique" classname="atomic-selftest-outer.cross-host" time="0.000">` + "\n      <failure message=\"host01, host02 share",
		"criteria.txt": "cross-host: machine-id.unique fail: host01, host02 share 0123456789abcdef0123456789abcdef",
		"report.md":    "Across hosts: machine-id.unique **fail**: host01, host02 share",
		"report.html":  "<dt>cross-host machine-id.unique</dt>",
	} {
		b, _ := os.ReadFile(filepath.Join(dir, file))
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q:\n%s", file, want, b)
		}
	}

	f = newSimFleet(t, 2, nil)
	rep = Run(context.Background(), simMachines(t, f), simOptions(t, base))
	if !rep.OK || len(rep.CrossHost) != 1 || rep.CrossHost[0].Status != report.AssertPass || rep.CrossHost[0].Message != "2 host(s), 2 distinct machine-ids" {
		t.Errorf("own machine-ids: ok %v, %+v", rep.OK, rep.CrossHost)
	}
}

// Where SELinux is on, the /var files' types are compared and
// carry.selinux says which.
func TestCarrySELinuxSim(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.SELinuxType = "var_lib_t" })
	p := plan.Ostree()
	p.Steps = p.Steps[:2]
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, p))
	logReport(t, rep)
	if a := assertion(t, rep.Hosts[0].Steps[1], "carry.selinux"); !rep.OK || a.Status != report.AssertPass || !strings.HasSuffix(a.Message, "(var_lib_t)") {
		t.Errorf("ok %v, carry.selinux %+v, want pass comparing var_lib_t", rep.OK, a)
	}
}

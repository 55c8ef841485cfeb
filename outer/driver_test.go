package outer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/outer/outertest"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/outer/ssh"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

func stepByName(t *testing.T, hr *report.HostReport, name string) *report.StepReport {
	t.Helper()
	for _, s := range hr.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("host %s has no step %s", hr.Host, name)
	return nil
}

func logReport(t *testing.T, rep *report.Report) {
	t.Helper()
	for _, h := range rep.Hosts {
		for _, s := range h.Steps {
			t.Logf("%s %-22s %-11s %s", h.Host, s.Name, s.Status, s.Message)
		}
	}
}

// The whole default plan against one simulated host: every step passes,
// the commands the plan documents were run with the versions the upgrade
// source made, and the artifacts are where the report says.
func TestDefaultPlanSim(t *testing.T) {
	f := newSimFleet(t, 1, nil)
	opts := simOptions(t, plan.Default())
	start := time.Now()
	rep := Run(context.Background(), simMachines(t, f), opts)
	logReport(t, rep)
	if !rep.OK {
		t.Fatalf("default plan failed")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("default plan took %s", d)
	}
	h := f.Hosts[0]
	cmds := strings.Join(h.Commands(), "\n")
	boots := h.Boots()
	for _, want := range []string{
		"rpm-ostree upgrade", "rpm-ostree rollback", "atomic host upgrade", "atomic host rollback",
		"rpm-ostree deploy 28.20180515.1.selftest.1", "atomic host deploy 28.20180515.1",
		"rpm-ostree install htop", "atomic host install tmux",
		"--add-metadata-string=version=28.20180515.1.selftest.2",
	} {
		if !strings.Contains(cmds, want) {
			t.Errorf("no command %q was run", want)
		}
	}
	if boots != 12 { // the first boot plus one per cycle (the cleanup does not reboot)
		t.Errorf("%d boots, want 12", boots)
	}
	hr := rep.Hosts[0]
	up := stepByName(t, hr, "rpm-ostree-upgrade")
	if up.Expected == nil || up.After == nil || up.After.Checksum != up.Expected.Checksum || up.Before.Checksum == up.After.Checksum {
		t.Errorf("upgrade: before %+v after %+v expected %+v", up.Before, up.After, up.Expected)
	}
	if up.Record == nil || up.Record.BootID != up.BootID || up.Record.Expectation == nil {
		t.Errorf("upgrade step's record is not of its boot or lacks the expectation: %+v", up.Record)
	}
	rb := stepByName(t, hr, "rpm-ostree-rollback")
	if rb.After.Checksum != up.Before.Checksum {
		t.Errorf("rollback booted %s, want the baseline %s", family.Describe(rb.After), family.Describe(up.Before))
	}
	inst := stepByName(t, hr, "atomic-host-install")
	if !family.HasPackage(inst.After, "htop") || !family.HasPackage(inst.After, "tmux") {
		t.Errorf("after both installs the booted deployment layers %v", inst.After.LayeredPackages)
	}
	for _, f := range []string{"record.json", "status-before.txt", "status-after.txt", "journal.txt", "step.json"} {
		if _, err := os.Stat(filepath.Join(up.Artifacts, f)); err != nil {
			t.Errorf("artifact: %v", err)
		}
	}
}

func TestOstreePlanSim(t *testing.T) {
	f := newSimFleet(t, 1, nil)
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, plan.Ostree()))
	logReport(t, rep)
	if !rep.OK {
		t.Fatal("ostree plan failed")
	}
	cmds := strings.Join(f.Hosts[0].Commands(), "\n")
	for _, want := range []string{"ostree admin status", "ostree admin upgrade", "/usr/bin/python3 -c", "ostree admin deploy "} {
		if !strings.Contains(cmds, want) {
			t.Errorf("no command %q was run", want)
		}
	}
	if strings.Contains("\n"+cmds, "\nrpm-ostree ") {
		t.Errorf("the ostree profile ran rpm-ostree")
	}
}

// Each injected failure fails the right step with a message a person can
// act on; an unreachable host's later steps are not run, a host that is
// reachable goes on with its next steps.
func TestDefaultPlanSimFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tweak    func(h *simHost)
		step     string
		status   string
		msg      string
		laterRun bool // the step after runs
		bound    time.Duration
	}{
		{"never returns", func(h *simHost) { h.NeverReturn = true }, "rpm-ostree-upgrade", report.StepError,
			"did not come back with a new boot id within 1.5s", false, 0},
		{"boots the wrong deployment", func(h *simHost) { h.WrongBoot = true }, "rpm-ostree-upgrade", report.StepFail,
			"collect: booted " + outertest.FirstCommit("host00")[:10] + "… (28.20180515.1), expected", true, 0},
		{"self-test fails", func(h *simHost) { h.SelftestFails = true }, "rpm-ostree-upgrade", report.StepFail,
			"required checks runtime.run fail (docker run hello: exit status 125)", true, 0},
		{"host key changed", func(h *simHost) { h.NewKeyOnReboot = true }, "rpm-ostree-upgrade", report.StepError,
			"CHANGED", false, 15 * time.Second},
		{"no upgrade", func(h *simHost) { h.NoUpgrade = true }, "rpm-ostree-upgrade", report.StepFail,
			"default deployment is still the booted", true, 0},
		{"self-test never runs", func(h *simHost) { h.SelftestNever = true }, "baseline", report.StepFail,
			"no run record of boot", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSimFleet(t, 1, func(_ int, h *simHost) { tc.tweak(h) })
			opts := simOptions(t, plan.Default())
			opts.RebootTimeout, opts.SelftestTimeout = 1500*time.Millisecond, 300*time.Millisecond
			if tc.bound > 0 {
				// Far longer than the bound: only a wait that ends at
				// once stays under it.
				opts.RebootTimeout = time.Minute
			}
			start := time.Now()
			rep := Run(context.Background(), simMachines(t, f), opts)
			logReport(t, rep)
			if rep.OK {
				t.Fatal("run passed")
			}
			hr := rep.Hosts[0]
			var i int
			for i = range hr.Steps {
				if hr.Steps[i].Status != report.StepPass {
					break
				}
			}
			s := hr.Steps[i]
			if s.Name != tc.step || s.Status != tc.status || !strings.Contains(s.Message, tc.msg) {
				t.Fatalf("first bad step %s %s %q, want %s %s containing %q", s.Name, s.Status, s.Message, tc.step, tc.status, tc.msg)
			}
			if i+1 < len(hr.Steps) {
				next := hr.Steps[i+1]
				if tc.laterRun == (next.Status == report.StepNotRun) {
					t.Errorf("next step %s: %s %s", next.Name, next.Status, next.Message)
				}
				if !tc.laterRun && !strings.Contains(next.Message, tc.msg) {
					t.Errorf("a not-run step does not say why: %q", next.Message)
				}
			}
			if s.Status != report.StepPass && s.Name != "baseline" && len(s.Tail) == 0 && tc.laterRun {
				t.Errorf("failed step has no journal tail")
			}
			if tc.bound > 0 && time.Since(start) > tc.bound {
				t.Errorf("took %s, want under %s: a changed key must end the wait at once", time.Since(start), tc.bound)
			}
		})
	}
}

// One host failing does not hold up or fail the others.
func TestHostsIndependent(t *testing.T) {
	f := newSimFleet(t, 3, func(i int, h *simHost) { h.NeverReturn = i == 1 })
	opts := simOptions(t, plan.Default())
	opts.RebootTimeout = time.Second
	rep := Run(context.Background(), simMachines(t, f), opts)
	if want := (report.Summary{Hosts: 3, HostsOK: 2, Steps: map[string]int{report.StepPass: 13*2 + 1, report.StepError: 1, report.StepNotRun: 11}}); !reflect.DeepEqual(rep.Summary, want) {
		t.Errorf("summary %+v, want %+v", rep.Summary, want)
	}
	if rep.OK || rep.Hosts[1].OK || !rep.Hosts[0].OK || !rep.Hosts[2].OK {
		logReport(t, rep)
		t.Fatalf("want only host01 failed: %v %v %v", rep.Hosts[0].OK, rep.Hosts[1].OK, rep.Hosts[2].OK)
	}
}

// Interrupting the driver: the running step ends as interrupted, later
// steps are marked, and every step.json written is whole.
func TestInterrupt(t *testing.T) {
	f := newSimFleet(t, 2, func(_ int, h *simHost) { h.DownFor = 300 * time.Millisecond })
	opts := simOptions(t, plan.Default())
	ctx, cancel := context.WithCancel(context.Background())
	var at atomic.Int32
	opts.OnEvent = func(e Event) {
		// Stop once both hosts are in the rollback's reboot.
		if e.Step == "rpm-ostree-rollback" && e.Action == plan.ActReboot && e.Status == "start" && at.Add(1) == 2 {
			cancel()
		}
	}
	rep := Run(ctx, simMachines(t, f), opts)
	if !rep.Interrupted || rep.OK {
		t.Fatalf("interrupted=%v ok=%v", rep.Interrupted, rep.OK)
	}
	for _, h := range rep.Hosts {
		if s := stepByName(t, h, "rpm-ostree-upgrade"); s.Status != report.StepPass {
			t.Errorf("%s: the step before the interrupt: %s %s", h.Host, s.Status, s.Message)
		}
		if s := stepByName(t, h, "rpm-ostree-rollback"); s.Status != report.StepInterrupted {
			t.Errorf("%s: interrupted step: %s %s", h.Host, s.Status, s.Message)
		}
		if s := stepByName(t, h, "atomic-host-install"); s.Status != report.StepInterrupted {
			t.Errorf("%s: later step: %s %s", h.Host, s.Status, s.Message)
		}
	}
	files, _ := filepath.Glob(filepath.Join(opts.ArtifactsDir, "*", "*", "step.json"))
	if len(files) < 4 {
		t.Errorf("%d step.json files", len(files))
	}
	for _, p := range files {
		var sr report.StepReport
		data, _ := os.ReadFile(p)
		if err := json.Unmarshal(data, &sr); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// A host that freezes in the middle of a command (no answer, no reset) is
// noticed by the keepalive long before the command's timeout.
func TestFrozenHostKeepAlive(t *testing.T) {
	f := newSimFleet(t, 1, func(_ int, h *simHost) { h.HangOn = "rpm-ostree upgrade" })
	h := f.Hosts[0]
	m, err := ssh.New(ssh.Config{Name: h.Name, Addr: h.Addr, KeyFile: f.KeyFile, KnownHosts: f.KnownHosts, KeepAlive: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	start := time.Now()
	_, err = m.Run(context.Background(), time.Minute, "rpm-ostree", "upgrade")
	if !errors.Is(err, transport.ErrConnection) {
		t.Fatalf("got %v, want a lost connection", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("noticed after %s", d)
	}
}

// Host names that map to the same file name get a directory each.
func TestArtifactDirsUnique(t *testing.T) {
	f := newSimFleet(t, 2, nil)
	var ms []transport.Machine
	for i, name := range []string{"web/1", "web:1"} {
		h := f.Hosts[i]
		m, err := ssh.New(ssh.Config{Name: name, Addr: h.Addr, KeyFile: f.KeyFile, KnownHosts: f.KnownHosts})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		ms = append(ms, m)
	}
	p := &plan.Plan{Name: "base", Steps: []plan.Step{plan.Baseline()}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	opts := simOptions(t, p)
	rep := Run(context.Background(), ms, opts)
	if !rep.OK {
		logReport(t, rep)
		t.Fatal("baseline failed")
	}
	a, b := rep.Hosts[0].Steps[0].Artifacts, rep.Hosts[1].Steps[0].Artifacts
	if a == b || filepath.Dir(a) != filepath.Join(opts.ArtifactsDir, "web_1") || filepath.Dir(b) != filepath.Join(opts.ArtifactsDir, "web_1.2") {
		t.Errorf("artifact dirs %s and %s", a, b)
	}
}

// A plan made in code with a family the driver does not know runs
// nothing on the host: every step says why.
func TestUnknownFamilyRunsNothing(t *testing.T) {
	f := newSimFleet(t, 1, nil)
	p := &plan.Plan{Name: "odd", Family: "dnf", Steps: []plan.Step{plan.Baseline()}}
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, p))
	s := rep.Hosts[0].Steps[0]
	if rep.OK || s.Status != report.StepNotRun || !strings.Contains(s.Message, `host family "dnf"`) {
		t.Errorf("ok %v, step %s %q", rep.OK, s.Status, s.Message)
	}
	if cmds := f.Hosts[0].Commands(); len(cmds) != 0 {
		t.Errorf("the driver ran %v", cmds)
	}
}

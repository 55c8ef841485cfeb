package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// testbedInfo is outer/testbed/build.sh's testbed.json.
type testbedInfo struct {
	Ref      string `json:"ref"`
	Variant  string `json:"variant"`
	Deployed string `json:"deployed"`
	Commits  []struct {
		Checksum string `json:"checksum"`
		Version  string `json:"version"`
	} `json:"commits"`
}

func readTestbed(t *testing.T, dir string) *testbedInfo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "testbed.json"))
	if err != nil {
		t.Fatal(err)
	}
	var info testbedInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatalf("testbed.json: %v", err)
	}
	if len(info.Commits) != 3 {
		t.Fatalf("testbed.json: %d commits, want 3", len(info.Commits))
	}
	return &info
}

// bootCycleVM boots the testbed image and joins it with the driver's SSH
// transport.
func bootCycleVM(t *testing.T, name string) (*Machine, *testbedInfo) {
	vm := startTestbed(t, name)
	info := readTestbed(t, os.Getenv(testbedEnv))
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if _, err := vm.WaitSSH(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: sshd up after %v (accel %s)", name, time.Since(start).Round(time.Second), vm.Accel())
	m, err := NewMachine(vm, DialSSH)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, info
}

// drive runs the outer driver with a plan from outer/testbed against m,
// writes the reports into the artifacts and prints the criteria table and
// the time of every step.
func drive(t *testing.T, m *Machine, planFile string, steps int, probe *deploymentChangeProbe) *outer.Report {
	t.Helper()
	art := os.Getenv("ATOMIC_SELFTEST_ARTIFACTS")
	if art == "" {
		art = t.TempDir()
	}
	plan, err := outer.LoadPlan(filepath.Join("..", "testbed", planFile))
	if err != nil {
		t.Fatal(err)
	}
	if steps > 0 && steps < len(plan.Steps) {
		plan.Steps = plan.Steps[:steps]
	}
	art = filepath.Join(art, m.Name()+"-"+plan.Name)
	// An interrupted run stops the VM (Start's goroutine) and still
	// writes the report of what ran.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	var mach transport.Machine = m
	if probe != nil {
		mach = probe
	}
	rep := outer.Run(ctx, []transport.Machine{mach}, outer.Options{
		Plan: plan, ArtifactsDir: art,
		RebootTimeout: 15 * time.Minute, SelftestTimeout: 15 * time.Minute, CommandTimeout: 10 * time.Minute,
		OnEvent: func(e outer.Event) {
			if probe != nil && e.Status == "start" {
				probe.setStep(e.Step)
			}
			if e.Status != "start" {
				fmt.Fprintf(os.Stderr, "  %-34s %-8s %6.0fs %s\n", e.Step, e.Status, e.Elapsed.Seconds(), e.Message)
			}
		},
	})
	if err := rep.WriteFiles(art); err != nil {
		t.Error(err)
	}
	var tb strings.Builder
	_ = rep.WriteTable(&tb)
	fmt.Fprintf(os.Stderr, "\n%s\n", tb.String())
	for _, s := range rep.Hosts[0].Steps {
		fmt.Fprintf(os.Stderr, "phase %-34s %-8s %6.0fs", s.Name, s.Status, s.DurationSec)
		for _, a := range s.Actions {
			fmt.Fprintf(os.Stderr, "  %s %.0fs", a.Do, a.DurationSec)
		}
		fmt.Fprintln(os.Stderr)
	}
	fmt.Fprintf(os.Stderr, "phase %-34s %-8s %6.0fs\n", "plan "+plan.Name, map[bool]string{true: "pass", false: "FAIL"}[rep.OK], time.Since(start).Seconds())
	fmt.Fprintf(os.Stderr, "artifacts: %s\n", art)
	return rep
}

// TestCycleTestbed is issue 8's cycle: baseline 12.2, upgrade to 12.3,
// rollback to 12.2, deploy the oldest 12.1; every boot's self-test passes
// and the booted checksums come in exactly that order, each with its own
// boot id and run record. Then, on the same VM, the deliberately broken
// step (outer/testbed/broken-expectation.toml) must fail at collect with
// both checksums named.
func TestCycleTestbed(t *testing.T) {
	if os.Getenv("ATOMIC_SELFTEST_TESTBED_CYCLE") == "" {
		t.Skip("ATOMIC_SELFTEST_TESTBED_CYCLE is not set (scripts/e2e.d/90-vm.sh runs the cycle)")
	}
	m, info := bootCycleVM(t, "testbed-cycle")
	if info.Variant != "good" {
		t.Fatalf("image variant %s: the cycle needs the good one", info.Variant)
	}
	v1, v2, v3 := info.Commits[0].Checksum, info.Commits[1].Checksum, info.Commits[2].Checksum
	probe := newDeploymentChangeProbe(t, m)
	rep := drive(t, m, "ostree-cycle.toml", 0, probe)
	// Every step that wrote a deployment had its deployment-change run
	// before the reboot (issue 16): upgrade, rollback, deploy.
	if got := probe.stepsSeen(); strings.Join(got, " ") != "ostree-upgrade ostree-rollback ostree-deploy-oldest" {
		t.Errorf("deployment-change run records before the reboots of steps %v, want ostree-upgrade, ostree-rollback, ostree-deploy-oldest", got)
	}
	// Each names what the reboot will boot.
	vers := []string{info.Commits[0].Version, info.Commits[1].Version, info.Commits[2].Version}
	probe.wantPending(map[string]string{
		"ostree-upgrade":       "upgrade to " + vers[2] + " pending",
		"ostree-rollback":      "rollback to " + vers[1] + " pending",
		"ostree-deploy-oldest": "deploy to " + vers[0] + " pending",
	})
	if !rep.OK {
		t.Fatal("the cycle failed; see the table above")
	}
	want := []string{v2, v3, v2, v1}
	steps := rep.Hosts[0].Steps
	if len(steps) != len(want) {
		t.Fatalf("%d steps, want %d", len(steps), len(want))
	}
	boots := map[string]string{}
	for i, s := range steps {
		if s.After == nil || s.After.Checksum != want[i] {
			t.Errorf("step %s booted %v, want %s", s.Name, s.After, want[i])
		}
		if s.Record == nil || s.Record.BootID != s.BootID {
			t.Errorf("step %s: no run record of its boot %s", s.Name, s.BootID)
		}
		if prev, dup := boots[s.BootID]; dup {
			t.Errorf("steps %s and %s share boot id %s", prev, s.Name, s.BootID)
		}
		boots[s.BootID] = s.Name
		if _, err := os.Stat(filepath.Join(s.Artifacts, "record.json")); err != nil {
			t.Errorf("step %s: %v", s.Name, err)
		}
	}
	// The seed reached cloud-init on the first boot and its effects lasted
	// through three deployment changes: host name, user script marker.
	ctx := context.Background()
	if res, err := m.Run(ctx, time.Minute, "hostname"); err != nil || strings.TrimSpace(string(res.Stdout)) != "testbed-cycle" {
		t.Errorf("hostname %q (%v), want testbed-cycle", res.Stdout, err)
	}
	if b, err := m.ReadFile(ctx, DefaultMarker, 4096); err != nil || !strings.HasPrefix(string(b), "testbed-cycle-") {
		t.Errorf("user script marker %q (%v)", b, err)
	}
	// Four boots, all in one QEMU process: a reboot is a real reboot.
	select {
	case <-m.VM.Exited():
		t.Errorf("QEMU (pid %d) exited during the cycle", m.VM.cmd.Process.Pid)
	default:
	}
	console, _ := os.ReadFile(m.VM.cfg.ConsoleLog)
	if n := strings.Count(string(console), "Linux version "); n != len(want) {
		t.Errorf("the console shows %d kernel boots, want %d", n, len(want))
	}

	if os.Getenv("E2E_VM_BROKEN") == "0" {
		return
	}
	// Two rollbacks in a row before the reboot: the record must judge the
	// state after the second (a run that began before it is followed by
	// another one), where the booted deployment is back in front.
	bad := drive(t, m, "broken-expectation.toml", 0, probe)
	if got := probe.stepsSeen(); len(got) != 4 || got[3] != "ostree-rollback-wrong-expectation" {
		t.Errorf("deployment-change run records before the reboots of steps %v, want the wrong-expectation step's too", got)
	}
	probe.wantPending(map[string]string{"ostree-rollback-wrong-expectation": "nothing pending"})
	if bad.OK {
		t.Fatal("the wrong-expectation step passed")
	}
	s := bad.Hosts[0].Steps[0]
	if s.Status != outer.StepFail || !strings.HasPrefix(s.Message, "collect: booted "+v1[:10]) || !strings.Contains(s.Message, "expected "+v2[:8]) {
		t.Errorf("step %s %s %q: want collect to fail with booted %s, expected %s", s.Name, s.Status, s.Message, v1[:10], v2[:8])
	}
	if s.Record == nil {
		t.Fatal("no run record of the wrongly booted boot")
	}
	for _, c := range s.Record.Checks {
		if c.ID == "deployment.expected" && c.Status != "fail" {
			t.Errorf("the host's deployment.expected is %s (%s), want fail", c.Status, c.Message)
		}
	}
}

// TestCycleBrokenTestbed boots the docker-masked image: the baseline boot's
// self-test must fail on the container runtime, naming it.
func TestCycleBrokenTestbed(t *testing.T) {
	if os.Getenv("ATOMIC_SELFTEST_TESTBED_BROKEN") == "" {
		t.Skip("ATOMIC_SELFTEST_TESTBED_BROKEN is not set (scripts/e2e.d/90-vm.sh runs the broken variant)")
	}
	m, info := bootCycleVM(t, "testbed-broken")
	if info.Variant != "docker-masked" {
		t.Fatalf("image variant %s: want docker-masked", info.Variant)
	}
	rep := drive(t, m, "ostree-cycle.toml", 1, nil)
	if rep.OK {
		t.Fatal("the baseline passed on an image whose docker.service is masked")
	}
	s := rep.Hosts[0].Steps[0]
	if s.Name != "baseline" || s.Status != outer.StepFail || !strings.Contains(s.Message, "runtime.") {
		t.Errorf("first step %s %s %q: want baseline to fail on a runtime.* check", s.Name, s.Status, s.Message)
	}
}

// deploymentChangeProbe is the machine the driver cycles, with one thing
// added (issue 16): after each deployment command it notes when the
// command ended and the time of ostree's last write (the mtime of
// /sysroot/ostree/deploy, which libostree bumps on every deployment write
// and which atomic-selftest-deployment.path watches), and before the
// driver reboots it waits for the run record that
// atomic-selftest-deployment.service wrote on this boot and that began
// after that write, so it judged what the reboot will boot. It logs the
// time from the command's end to the record. Every call still reaches the
// machine as the driver made it.
type deploymentChangeProbe struct {
	transport.Machine
	t *testing.T

	mu      sync.Mutex
	step    string
	pending *deploymentCommand
	seen    []deploymentChange
}

// deploymentCommand is the last deployment command before a reboot.
type deploymentCommand struct {
	step, argv string
	hostEnd    time.Time // this machine's clock when the command returned
	guestEnd   time.Time // the guest's clock then
	lastWrite  time.Time // the guest's mtime of /sysroot/ostree/deploy then
}

// deploymentChange is a deployment-change run record found before a reboot.
type deploymentChange struct {
	Step     string
	Record   *record.Record
	Waited   time.Duration // this machine's clock: command end to the record found
	GuestEnd time.Duration // the guest's clock: command end to the record's end
	checked  bool
}

const deploymentRecordBound = 10 * time.Minute

func newDeploymentChangeProbe(t *testing.T, m transport.Machine) *deploymentChangeProbe {
	return &deploymentChangeProbe{Machine: m, t: t}
}

func (p *deploymentChangeProbe) setStep(s string) {
	p.mu.Lock()
	p.step = s
	p.mu.Unlock()
}

// stepsSeen names the steps whose deployment-change record was found.
func (p *deploymentChangeProbe) stepsSeen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, c := range p.seen {
		out = append(out, c.Step)
	}
	return out
}

// wantPending checks the deployment.pending message of each record found
// for a step that want names.
func (p *deploymentChangeProbe) wantPending(want map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.seen {
		c := &p.seen[i]
		w, ok := want[c.Step]
		if !ok || c.checked {
			continue
		}
		c.checked = true
		var got *record.Result
		for j := range c.Record.Checks {
			if c.Record.Checks[j].ID == "deployment.pending" {
				got = &c.Record.Checks[j]
			}
		}
		if got == nil || got.Status != record.StatusPass || !strings.Contains(got.Message, w) {
			p.t.Errorf("step %s: the deployment-change record's deployment.pending is %+v, want pass with %q", c.Step, got, w)
		}
	}
}

// isDeploymentCommand: the commands of outer/testbed's plans that write
// the deployment list.
func isDeploymentCommand(argv []string) bool {
	if len(argv) >= 3 && argv[0] == "ostree" && argv[1] == "admin" {
		return slices.Contains([]string{"upgrade", "deploy", "undeploy"}, argv[2])
	}
	rb := outer.RollbackArgv()
	return len(argv) >= len(rb) && slices.Equal(argv[:len(rb)], rb)
}

// Run implements transport.Machine.
func (p *deploymentChangeProbe) Run(ctx context.Context, timeout time.Duration, argv ...string) (transport.RunResult, error) {
	res, err := p.Machine.Run(ctx, timeout, argv...)
	if err != nil || res.ExitCode != 0 || !isDeploymentCommand(argv) {
		return res, err
	}
	c := &deploymentCommand{argv: strings.Join(argv[:min(len(argv), 3)], " "), hostEnd: time.Now()}
	if argv[0] != "ostree" {
		c.argv = "outer/rollback.py" // not the script's text
	}
	// The guest's clock now, and ostree's last write by the same clock.
	if r, e := p.Machine.Run(ctx, time.Minute, "date", "+%s.%N"); e == nil && r.ExitCode == 0 {
		c.guestEnd = unixTime(strings.TrimSpace(string(r.Stdout)))
	}
	if r, e := p.Machine.Run(ctx, time.Minute, "stat", "-c", "%.9Y", "/sysroot/ostree/deploy"); e == nil && r.ExitCode == 0 {
		c.lastWrite = unixTime(strings.TrimSpace(string(r.Stdout)))
	}
	if c.guestEnd.IsZero() || c.lastWrite.IsZero() {
		p.t.Errorf("after `%s`: could not read the guest's clock or the mtime of /sysroot/ostree/deploy", c.argv)
	}
	p.mu.Lock()
	c.step = p.step
	p.pending = c
	p.mu.Unlock()
	return res, err
}

// unixTime parses seconds.nanoseconds (date's %s.%N, stat's %.9Y).
func unixTime(s string) time.Time {
	sec, frac, _ := strings.Cut(s, ".")
	var si, ns int64
	_, _ = fmt.Sscan(sec, &si)
	if frac != "" {
		_, _ = fmt.Sscan((frac + "000000000")[:9], &ns)
	}
	return time.Unix(si, ns)
}

// Reboot implements transport.Machine: first the deployment-change record.
func (p *deploymentChangeProbe) Reboot(ctx context.Context) error {
	p.mu.Lock()
	c := p.pending
	p.pending = nil
	p.mu.Unlock()
	if c != nil {
		p.waitRecord(ctx, c)
	}
	return p.Machine.Reboot(ctx)
}

// waitRecord polls the results directory for this boot's
// deployment-change record that began after the command's last write.
func (p *deploymentChangeProbe) waitRecord(ctx context.Context, c *deploymentCommand) {
	t := p.t
	boot, err := p.Machine.BootID(ctx)
	if err != nil {
		t.Errorf("step %s: boot id: %v", c.step, err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, deploymentRecordBound)
	defer cancel()
	seen := map[string]bool{}
	for {
		res, err := p.Machine.Run(ctx, time.Minute, "find", "/var/lib/atomic-selftest", "-maxdepth", "1", "-name", "run-*-"+boot[:8]+".json")
		if err == nil {
			for _, n := range strings.Fields(string(res.Stdout)) {
				if seen[n] {
					continue
				}
				data, err := p.Machine.ReadFile(ctx, n, transport.Limits.Record)
				if err != nil {
					continue // a later poll reads it again
				}
				seen[n] = true
				rec, err := store.DecodeRecord(data)
				if err != nil {
					t.Errorf("step %s: run record %s: %v", c.step, n, err)
					continue
				}
				if rec.BootID != boot || rec.Trigger != record.TriggerDeploymentChange || !rec.Start.After(c.lastWrite) {
					continue
				}
				ch := deploymentChange{Step: c.step, Record: rec, Waited: time.Since(c.hostEnd), GuestEnd: rec.End.Sub(c.guestEnd)}
				p.mu.Lock()
				p.seen = append(p.seen, ch)
				p.mu.Unlock()
				fmt.Fprintf(os.Stderr, "  deployment-change %-26s `%s`: record %s (ok %v, %d passed, %d failed) found %.1fs after the command ended; the run began %.1fs after ostree's last write and ended %+.1fs from the command's end (guest clock)\n",
					c.step, c.argv, filepath.Base(n), rec.Summary.OK, rec.Summary.Passed, rec.Summary.Failed,
					ch.Waited.Seconds(), rec.Start.Sub(c.lastWrite).Seconds(), ch.GuestEnd.Seconds())
				return
			}
		}
		if ctx.Err() != nil {
			var diag strings.Builder
			for _, argv := range [][]string{
				{"systemctl", "status", "--no-pager", "atomic-selftest-deployment.path", "atomic-selftest-deployment.service"},
				{"ls", "-la", "--time-style=full-iso", "/sysroot/ostree/deploy", "/run/atomic-selftest"},
			} {
				if r, err := p.Machine.Run(context.Background(), time.Minute, argv...); err == nil {
					diag.Write(r.Stdout)
				}
			}
			t.Errorf("step %s: no run record with trigger deployment-change on boot %s that began after `%s` wrote the deployments, within %v\n%s",
				c.step, boot[:8], c.argv, deploymentRecordBound, diag.String())
			return
		}
		time.Sleep(time.Second)
	}
}

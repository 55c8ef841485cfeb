package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
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
func drive(t *testing.T, m *Machine, planFile string, steps int) *outer.Report {
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
	rep := outer.Run(ctx, []transport.Machine{m}, outer.Options{
		Plan: plan, ArtifactsDir: art,
		RebootTimeout: 15 * time.Minute, SelftestTimeout: 15 * time.Minute, CommandTimeout: 10 * time.Minute,
		OnEvent: func(e outer.Event) {
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
	rep := drive(t, m, "ostree-cycle.toml", 0)
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
	bad := drive(t, m, "broken-expectation.toml", 0)
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
	rep := drive(t, m, "ostree-cycle.toml", 1)
	if rep.OK {
		t.Fatal("the baseline passed on an image whose docker.service is masked")
	}
	s := rep.Hosts[0].Steps[0]
	if s.Name != "baseline" || s.Status != outer.StepFail || !strings.Contains(s.Message, "runtime.") {
		t.Errorf("first step %s %s %q: want baseline to fail on a runtime.* check", s.Name, s.Status, s.Message)
	}
}

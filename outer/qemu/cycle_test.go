package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
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
	// Bad is the commit whose docker.service is masked, on its own ref.
	Bad struct {
		Checksum, Version, Ref string
	} `json:"bad"`
	Health bool `json:"health"`
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
	if len(info.Commits) != 3 || info.Bad.Checksum == "" {
		t.Fatalf("testbed.json: %d commits and bad %+v, want 3 and the bad one", len(info.Commits), info.Bad)
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
func drive(t *testing.T, m *Machine, planFile string, steps int, skip ...string) *outer.Report {
	t.Helper()
	plan, err := outer.LoadPlan(filepath.Join("..", "testbed", planFile))
	if err != nil {
		t.Fatal(err)
	}
	if steps > 0 && steps < len(plan.Steps) {
		plan.Steps = plan.Steps[:steps]
	}
	plan.Steps = slices.DeleteFunc(plan.Steps, func(s outer.Step) bool { return slices.Contains(skip, s.Name) })
	return drivePlan(t, m, plan)
}

// drivePlan runs the outer driver with plan against m (see drive).
func drivePlan(t *testing.T, m *Machine, plan *outer.Plan) *outer.Report {
	t.Helper()
	art := os.Getenv("ATOMIC_SELFTEST_ARTIFACTS")
	if art == "" {
		art = t.TempDir()
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
		PlanHint: func(plan string) string { return "use --profile " + plan },
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
		for _, p := range s.Pending {
			fmt.Fprintf(os.Stderr, "      %s\n", p)
		}
		if r := s.HostRollback; r != nil {
			fmt.Fprintf(os.Stderr, "      host rollback: boot %s rejected %v (%s); recovered in %.0fs\n", r.FailedBootID, r.From, r.Reason, r.RecoverSec)
		}
	}
	fmt.Fprintf(os.Stderr, "phase %-34s %-8s %6.0fs\n", "plan "+plan.Name, map[bool]string{true: "pass", false: "FAIL"}[rep.OK], time.Since(start).Seconds())
	fmt.Fprintf(os.Stderr, "artifacts: %s\n", art)
	printLag(plan.Name, rep)
	return rep
}

// printLag prints the driver's lag of every step that waited for a boot's
// record: from the record's save on the host to the driver seeing it
// (issue 28 measures it; the driver's polling is outer's).
func printLag(name string, rep *outer.Report) {
	for _, h := range rep.Hosts {
		for _, s := range h.Steps {
			if s.Timing != nil && s.Timing.LagSec > 0 {
				fmt.Fprintf(os.Stderr, "driver lag %-20s %-34s %5.2fs (%s)\n", name, s.Name, s.Timing.LagSec, s.Timing.Wait)
			}
		}
	}
}

// TestCycleTestbed is issues 8, 12, 16 and 18 on one VM. First the
// built-in default profile against it must stop once, at preflight, naming
// the missing tool and the profile that fits (no reboot), and that profile
// is the ostree plan. Then outer/testbed/ostree-cycle.toml: baseline 12.2,
// upgrade to the bad 12.4 which the host rejects and rolls back from by
// itself (with E2E_VM_HEALTH other than 0), a staged upgrade to 12.3, a
// broken pending initramfs caught before any reboot; every boot's
// self-test passes and the booted checksums come in that order, each with
// its own boot id and run record, and before each reboot the driver's
// report has the host's deployment-change record naming what the reboot
// boots. Then, on the same VM, the deliberately broken step
// (outer/testbed/broken-expectation.toml) must fail at collect with both
// checksums named. The rollback and the deploy of an older commit, and
// the driver's upgrade source with a reboot into it, are
// TestNoFlagRunTestbed's, which runs beside this test on a VM of its own.
func TestCycleTestbed(t *testing.T) {
	if os.Getenv("ATOMIC_SELFTEST_TESTBED_CYCLE") == "" {
		t.Skip("ATOMIC_SELFTEST_TESTBED_CYCLE is not set (scripts/e2e.d/90-vm.sh runs the cycle)")
	}
	t.Parallel()
	health := os.Getenv("E2E_VM_HEALTH") != "0"
	m, info := bootCycleVM(t, "testbed-cycle")
	if info.Variant != "good" {
		t.Fatalf("image variant %s: the cycle needs the good one", info.Variant)
	}
	if health && !info.Health {
		t.Fatal("E2E_VM_HEALTH is on but the image has no [health] configuration (build.sh --health)")
	}
	// E2E_VM_ONLY=deadline boots the VM and runs only the cycle's baseline
	// and the boot-deadline step (to iterate on it without the whole cycle).
	if os.Getenv("E2E_VM_ONLY") == "deadline" {
		if rep := drive(t, m, "ostree-cycle.toml", 1); !rep.OK {
			t.Fatal("the baseline failed; see the table above")
		}
		deadlineRollbackOnTestbed(t, m, health)
		return
	}
	v2, v3 := info.Commits[1].Checksum, info.Commits[2].Checksum
	vers := []string{info.Commits[0].Version, info.Commits[1].Version, info.Commits[2].Version}
	ctx := context.Background()
	if onlyPendingTree() { // E2E_VM_ONLY=pending-tree
		pendingTreeOnTestbed(t, m)
		return
	}

	// Issue 18: the plan that does not fit fails once, at preflight.
	def := drivePlan(t, m, outer.DefaultPlan())
	h := def.Hosts[0]
	if def.OK || len(h.Steps) != len(outer.DefaultPlan().Steps) || h.Steps[0].Status != outer.StepFail ||
		h.Steps[0].Message != "wait-up: preflight: not applicable on this host: no rpm-ostree — use --profile ostree" {
		t.Errorf("default profile: first step %s %q, want the preflight's one sentence", h.Steps[0].Status, h.Steps[0].Message)
	}
	for _, s := range h.Steps[1:] {
		if s.Status != outer.StepNotRun || strings.Contains(s.Message, "rpm-ostree") {
			t.Errorf("default profile: step %s %s %q, want not run without repeating the reason", s.Name, s.Status, s.Message)
		}
	}
	if h.Preflight == nil || outer.FitPlan(h.Preflight) != "ostree" {
		t.Errorf("the auto profile would pick %q for this host (preflight %v), want ostree", outer.FitPlan(h.Preflight), h.Preflight)
	}
	// /sysroot is read-only, as ostree configures it (sysroot.readonly),
	// through the whole cycle.
	sysrootRO := func(when string) {
		res, err := m.Run(ctx, time.Minute, "findmnt", "-n", "-o", "OPTIONS", "/sysroot")
		if err != nil || !slices.Contains(strings.Split(strings.TrimSpace(string(res.Stdout)), ","), "ro") {
			t.Errorf("%s: /sysroot mounted %q (%v), want ro", when, res.Stdout, err)
		}
	}
	sysrootRO("before the cycle")
	podmanOnTestbed(ctx, t, m)

	// The pending-tree step runs after the cycle's checks (below).
	skip := []string{pendingTreeStep}
	if !health {
		skip = append(skip, "ostree-upgrade-to-bad")
	}
	rep := drive(t, m, "ostree-cycle.toml", 0, skip...)
	sysrootRO("after the cycle")
	if !rep.OK {
		t.Fatal("the cycle failed; see the table above")
	}
	checkCarryCycle(t, m, rep, health) // issue 26 (cycle_carry_test.go)
	noteVMHost(t, rep.Hosts[0])
	type want struct {
		step, booted, pending string
		reboots               bool
	}
	wants := []want{{"baseline", v2, "", true}}
	if health {
		wants = append(wants, want{"ostree-upgrade-to-bad", v2, "upgrade to " + info.Bad.Version + " pending (the new default)", true})
	}
	wants = append(wants,
		want{"ostree-upgrade-staged", v3, "upgrade to " + vers[2] + " pending (staged)", true},
		want{"ostree-broken-initramfs-caught", v3, "pending (the new default), but it cannot boot: ", false})
	steps := rep.Hosts[0].Steps
	if len(steps) != len(wants) {
		t.Fatalf("%d steps, want %d", len(steps), len(wants))
	}
	boots := map[string]string{}
	reboots := 0
	for i, s := range steps {
		w := wants[i]
		if s.Name != w.step {
			t.Fatalf("step %d is %s, want %s", i, s.Name, w.step)
		}
		// A step without a reboot collects nothing: what it ran on is
		// its status before.
		if on := map[bool]*outer.HostDeployment{true: s.After, false: s.Before}[w.reboots]; on == nil || on.Checksum != w.booted {
			t.Errorf("step %s: booted %v, want %s", s.Name, on, w.booted)
		}
		// Issue 16: the host's deployment-change record of the step's
		// commands, found by the driver before the reboot.
		switch {
		case w.pending == "" && len(s.Pending) != 0:
			t.Errorf("step %s: deployment-change records %+v, want none", s.Name, s.Pending)
		case w.pending != "" && (len(s.Pending) == 0 || !strings.Contains(s.Pending[len(s.Pending)-1].Message, w.pending)):
			t.Errorf("step %s: deployment-change records %+v, want one with %q", s.Name, s.Pending, w.pending)
		}
		if !w.reboots {
			if s.BootID != steps[i-1].BootID {
				t.Errorf("step %s rebooted the host", s.Name)
			}
			continue
		}
		reboots++
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
	// (b): the broken initramfs was caught before a reboot, by the
	// host's check, naming the file; the step says so.
	caught := steps[len(steps)-1]
	if p := caught.Pending; len(p) == 0 || p[len(p)-1].Status != "fail" || !strings.Contains(p[len(p)-1].Message, "initramfs") ||
		!strings.HasPrefix(caught.Message, "caught before the reboot: ") {
		t.Errorf("step %s %q: want the host's deployment.pending failure naming the initramfs, caught before the reboot", caught.Name, caught.Message)
	}
	if health {
		bad := steps[1]
		r := bad.HostRollback
		if r == nil || r.FailedRecord == nil || r.FailedRecord.Health == nil || r.FailedRecord.Health.Action != record.HealthRollback ||
			!strings.Contains(r.Reason, "runtime.") || r.From == nil || r.From.Checksum != info.Bad.Checksum {
			t.Errorf("step %s: host rollback %+v, want the 12.4 boot's record with a rollback for a runtime.* check", bad.Name, r)
		} else if bad.Record.Transition == nil || bad.Record.Transition.By != record.TransitionByAtomicSelftest ||
			bad.Record.Transition.ActionRecord != r.FailedRecord.ID {
			t.Errorf("step %s: the recovered boot's transition %+v, want a rollback by atomic-selftest ordered by %s", bad.Name, bad.Record.Transition, r.FailedRecord.ID)
		}
		if !strings.Contains(bad.Message, "runtime.") {
			t.Errorf("step %s: message %q lacks the host's reason", bad.Name, bad.Message)
		}
		// The operator's check in /etc/atomic-selftest/check.d (build.sh) fails 12.4 too.
		if r != nil && !strings.Contains(r.Reason, "site.testbed-release: /etc/atomic-selftest/check.d/required/testbed-release exited 1") {
			t.Errorf("step %s: rollback reason %q lacks the site check site.testbed-release", bad.Name, r.Reason)
		}
		if r != nil {
			if _, err := os.Stat(filepath.Join(bad.Artifacts, "record-rejected-boot.json")); err != nil {
				t.Errorf("step %s: %v", bad.Name, err)
			}
		}
		// reboot_attempts = 1 and the boot-complete.target gate: the
		// host's own reboots (its retry and its rollback's).
		reboots += healthOnTestbed(ctx, t, m, info, bad)
	}
	// The seed reached cloud-init on the first boot and its effects lasted
	// through every deployment change: host name, user script marker.
	if res, err := m.Run(ctx, time.Minute, "hostname"); err != nil || strings.TrimSpace(string(res.Stdout)) != "testbed-cycle" {
		t.Errorf("hostname %q (%v), want testbed-cycle", res.Stdout, err)
	}
	if b, err := m.ReadFile(ctx, DefaultMarker, 4096); err != nil || !strings.HasPrefix(string(b), "testbed-cycle-") {
		t.Errorf("user script marker %q (%v)", b, err)
	}
	// All boots in one QEMU process: a reboot is a real reboot.
	select {
	case <-m.VM.Exited():
		t.Errorf("QEMU (pid %d) exited during the cycle", m.VM.cmd.Process.Pid)
	default:
	}
	console, _ := os.ReadFile(m.VM.cfg.ConsoleLog)
	if n := strings.Count(string(console), "Linux version "); n != reboots {
		t.Errorf("the console shows %d kernel boots, want %d", n, reboots)
	}

	pendingTreeOnTestbed(t, m)

	// Last of all, on the boot the cycle ends on: the signals step writes
	// a kernel warning into that boot's journal, which fails every later
	// run of the same boot (journal.kernel is required), so nothing may
	// run on it afterwards. Deferred first, it runs after the deadline
	// step.
	defer signalsOnTestbed(ctx, t, m)
	// Issue 31's boot-deadline step, after every other step
	// (E2E_VM_DEADLINE=0 leaves it out).
	if os.Getenv("E2E_VM_DEADLINE") != "0" {
		defer deadlineRollbackOnTestbed(t, m, health)
	}
	if os.Getenv("E2E_VM_BROKEN") == "0" {
		return
	}
	// Two rollbacks in a row before the reboot: the record must judge the
	// state after the second (a run that began before it is followed by
	// another one), where the booted deployment is back in front.
	bad := drive(t, m, "broken-expectation.toml", 0)
	if bad.OK {
		t.Fatal("the wrong-expectation step passed")
	}
	s := bad.Hosts[0].Steps[0]
	if s.Status != outer.StepFail || !strings.HasPrefix(s.Message, "collect: booted "+v3[:10]+"… ("+vers[2]+")") || !strings.Contains(s.Message, "expected "+v2[:10]+"… ("+vers[1]+")") {
		t.Errorf("step %s %s %q: want collect to fail with booted %s, expected %s", s.Name, s.Status, s.Message, v3[:10], v2[:10])
	}
	if p := s.Pending; len(p) == 0 || !strings.Contains(p[len(p)-1].Message, "nothing pending") {
		t.Errorf("step %s: deployment-change records %+v, want the last to say nothing pending", s.Name, p)
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

// podmanOnTestbed is issue 13's proof on the VM: the image carries
// Debian's podman next to docker, and the runtime and storage checks pass
// against it too, through podman.socket (shipped disabled, as on Debian;
// started here as an admin would), in one manual run that saves nothing.
func podmanOnTestbed(ctx context.Context, t *testing.T, m *Machine) {
	t.Helper()
	start := time.Now()
	if res, err := m.Run(ctx, time.Minute, "systemctl", "start", "podman.socket"); err != nil {
		t.Errorf("systemctl start podman.socket: %v (%s)", err, res.Stderr)
		return
	}
	// podman's API service is socket-activated and exits after 5 s idle
	// (podman system service's default), so each check's ping may start
	// it again. Under TCG, beside the suite's second VM on the same two
	// cores, that took longer than the default 5 s ping_timeout; this
	// manual run gives the ping a minute (the boots' runs keep the default).
	// --config-dir replaces the usual directories, so those the image
	// has (the RPM's; an image with E2E_VM_BINARY has neither) come first.
	conf := "/run/atomic-selftest-testbed-podman"
	if res, err := m.Run(ctx, time.Minute, "mkdir", "-p", conf); err != nil || res.ExitCode != 0 {
		t.Errorf("mkdir %s: %v, exit %d (%s)", conf, err, res.ExitCode, res.Stderr)
		return
	}
	if err := m.WriteFile(ctx, conf+"/90-ping.toml", []byte("[runtime]\nping_timeout = \"60s\"\n"), 0o644); err != nil {
		t.Errorf("writing %s/90-ping.toml: %v", conf, err)
		return
	}
	checks := []string{"runtime.service", "runtime.run", "storage.config", "storage.driver"}
	argv := []string{"atomic-selftest", "run", "--engine", "podman", "--no-save", "--report", "no",
		"--format", "json", "--check", strings.Join(checks, ",")}
	for _, d := range []string{"/usr/lib/atomic-selftest/config.d", "/etc/atomic-selftest/config.d", conf} {
		if res, err := m.Run(ctx, time.Minute, "test", "-d", d); err == nil && res.ExitCode == 0 {
			argv = append(argv, "--config-dir", d)
		}
	}
	res, err := m.Run(ctx, 10*time.Minute, argv...)
	var rec record.Record
	if jerr := json.Unmarshal(res.Stdout, &rec); jerr != nil {
		t.Errorf("atomic-selftest run --engine podman (%v): %v; stderr %s", err, jerr, res.Stderr)
		return
	}
	for _, id := range checks {
		var got *record.Result
		for i := range rec.Checks {
			if rec.Checks[i].ID == id {
				got = &rec.Checks[i]
			}
		}
		switch {
		case got == nil:
			t.Errorf("podman run: no result for %s", id)
		case got.Status != record.StatusPass:
			t.Errorf("podman run: %s %s: %s", id, got.Status, got.Message)
		case !strings.Contains(fmt.Sprint(got.Details["engine"]), "podman"):
			t.Errorf("podman run: %s ran against engine %v, want podman", id, got.Details["engine"])
		default:
			fmt.Fprintf(os.Stderr, "  podman %-18s pass %5.1fs %s\n", id, got.DurationSec, got.Message)
		}
	}
	fmt.Fprintf(os.Stderr, "phase %-34s %-8s %6.0fs\n", "runtime.* and storage.* on podman", map[bool]string{true: "pass", false: "FAIL"}[!t.Failed()], time.Since(start).Seconds())
}

// TestNoFlagRunTestbed is the newcomer's command itself, on a VM of its
// own beside TestCycleTestbed: `atomic-selftest-outer run --qemu-image
// DISK` with no profile, no plan and no other flag, run from an empty
// directory against the testbed image, must pass. The auto profile picks
// the ostree plan for the host, and its steps are the proof that no other
// step of the suite gives:
//   - ostree-upgrade: the driver's upgrade source (the booted tree plus a
//     marker, committed on the host, on the read-only /sysroot) deployed
//     with ostree admin upgrade and booted; its boot's self-test passes
//     (issue 30: a commit whose / was mode 0700 left this boot without a
//     network);
//   - ostree-deploy: ostree admin deploy of the upgrade's parent (C5);
//   - ostree-rollback: the libostree rollback back to the upgrade (C4).
//
// Each reboots into what the host's deployment-change record named.
func TestNoFlagRunTestbed(t *testing.T) {
	if os.Getenv("ATOMIC_SELFTEST_TESTBED_CYCLE") == "" {
		t.Skip("ATOMIC_SELFTEST_TESTBED_CYCLE is not set (scripts/e2e.d/90-vm.sh runs it)")
	}
	dir := os.Getenv(testbedEnv)
	if dir == "" {
		t.Fatalf("%s is not set (scripts/e2e.d/90-vm.sh builds the image)", testbedEnv)
	}
	needQEMU(t)
	t.Parallel()
	info := readTestbed(t, dir)
	v2 := info.Commits[1].Checksum
	upVersion := info.Commits[1].Version + ".selftest.1"

	// The command as a user builds it from this checkout.
	bin := filepath.Join(t.TempDir(), "atomic-selftest-outer")
	build := exec.Command("go", "build", "-o", bin, "./cmd/atomic-selftest-outer")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/atomic-selftest-outer: %v\n%s", err, out)
	}
	art := os.Getenv("ATOMIC_SELFTEST_ARTIFACTS")
	if art == "" {
		art = t.TempDir()
	}
	cwd := filepath.Join(art, "no-flag-run")
	if err := os.RemoveAll(cwd); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cwd, 0o700); err != nil {
		t.Fatal(err)
	}

	// Bounded, and stopped the way a user stops it (SIGTERM: the command
	// stops its QEMU and writes the report of what ran).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, bin, "run", "--qemu-image", filepath.Join(dir, "disk.img"))
	cmd.Dir = cwd
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 2 * time.Minute
	runErr := cmd.Run()
	fmt.Fprintf(os.Stderr, "phase %-34s %-8s %6.0fs\n", "no-flag run (auto profile)",
		map[bool]string{true: "pass", false: "FAIL"}[runErr == nil], time.Since(start).Seconds())

	// Its artifacts directory is the one it made in the empty directory.
	made, err := filepath.Glob(filepath.Join(cwd, "atomic-selftest-outer-*"))
	if err != nil || len(made) != 1 {
		t.Fatalf("atomic-selftest-outer run (%v) made %v in %s, want one artifacts directory (%v)", runErr, made, cwd, err)
	}
	b, err := os.ReadFile(filepath.Join(made[0], "report.json"))
	if err != nil {
		t.Fatalf("atomic-selftest-outer run (%v): %v", runErr, err)
	}
	var rep outer.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	printLag("no-flag", &rep)
	if runErr != nil {
		t.Errorf("atomic-selftest-outer run --qemu-image %s: %v (artifacts %s)", filepath.Join(dir, "disk.img"), runErr, made[0])
	}
	if !rep.OK || len(rep.Hosts) != 1 {
		t.Fatalf("report.json: ok %v with %d hosts, want a pass on one", rep.OK, len(rep.Hosts))
	}
	h := rep.Hosts[0]
	if h.Plan != "ostree" {
		t.Errorf("the auto profile ran plan %q on the testbed, want ostree", h.Plan)
	}
	type want struct{ step, pending string }
	wants := []want{{"baseline", ""},
		{"ostree-upgrade", "upgrade to " + upVersion + " pending"},
		{"ostree-deploy", "deploy to " + info.Commits[1].Version + " pending"},
		{"ostree-rollback", "rollback to " + upVersion + " pending"}}
	// The plan's last steps boot nothing (layering, n/a here, and the
	// cleanup): checkCarryOstreePlan's.
	if len(h.Steps) < len(wants) {
		t.Fatalf("%d steps, want %d (%v) and more", len(h.Steps), len(wants), wants)
	}
	checkCarryOstreePlan(t, &rep)
	noteVMHost(t, h)
	boots := map[string]bool{}
	for i, s := range h.Steps[:len(wants)] {
		w := wants[i]
		if s.Name != w.step || s.Status != outer.StepPass {
			t.Errorf("step %d: %s %s %q, want %s to pass", i, s.Name, s.Status, s.Message, w.step)
		}
		if w.pending != "" && (len(s.Pending) == 0 || !strings.Contains(s.Pending[len(s.Pending)-1].Message, w.pending)) {
			t.Errorf("step %s: deployment-change records %+v, want one with %q", s.Name, s.Pending, w.pending)
		}
		if s.Record == nil || s.Record.BootID != s.BootID || boots[s.BootID] {
			t.Errorf("step %s: boot %s, want a run record of a boot of its own", s.Name, s.BootID)
		}
		boots[s.BootID] = true
	}
	// What each boot booted: the image's 12.2, the driver's upgrade (a
	// commit of its own, not one of the image's), 12.2 again, the upgrade
	// again.
	up := h.Steps[1].After
	switch {
	case h.Steps[0].After == nil || h.Steps[0].After.Checksum != v2:
		t.Errorf("baseline booted %+v, want %s", h.Steps[0].After, v2)
	case up == nil || up.Version != upVersion || up.Checksum == v2 || up.Checksum == info.Commits[2].Checksum:
		t.Errorf("ostree-upgrade booted %+v, want the driver's commit %s", up, upVersion)
	case h.Steps[2].After == nil || h.Steps[2].After.Checksum != v2:
		t.Errorf("ostree-deploy booted %+v, want the upgrade's parent %s", h.Steps[2].After, v2)
	case h.Steps[3].After == nil || h.Steps[3].After.Checksum != up.Checksum:
		t.Errorf("ostree-rollback booted %+v, want the upgrade %s again", h.Steps[3].After, up.Checksum)
	}
	// One QEMU process: the first boot and three reboots.
	console, err := os.ReadFile(filepath.Join(made[0], "qemu1-console.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(console), "Linux version "); n != 4 {
		t.Errorf("the console shows %d kernel boots, want 4", n)
	}
}

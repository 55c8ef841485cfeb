package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// TestHealthTestbed runs only the health paths of the cycle, for working
// on them: the baseline and ostree-upgrade-to-bad steps of
// outer/testbed/ostree-cycle.toml on a VM of their own, with the same
// assertions TestCycleTestbed makes of them (healthOnTestbed). The VM
// suite does not run it: TestCycleTestbed covers these steps.
func TestHealthTestbed(t *testing.T) {
	if os.Getenv("ATOMIC_SELFTEST_TESTBED_HEALTH") == "" {
		t.Skip("ATOMIC_SELFTEST_TESTBED_HEALTH is not set (TestCycleTestbed runs these steps in the VM suite)")
	}
	m, info := bootCycleVM(t, "testbed-health")
	if !info.Health {
		t.Fatal("the image has no [health] configuration (build.sh --health)")
	}
	start := time.Now()
	rep := drive(t, m, "ostree-cycle.toml", 2)
	steps := rep.Hosts[0].Steps
	if !rep.OK || len(steps) != 2 || steps[1].Name != "ostree-upgrade-to-bad" {
		t.Fatal("the baseline and the bad upgrade failed; see the table above")
	}
	host := healthOnTestbed(context.Background(), t, m, info, steps[1])
	console, _ := os.ReadFile(m.VM.cfg.ConsoleLog)
	// The baseline's boot, the driver's reboot into 12.4, and the host's.
	if n := strings.Count(string(console), "Linux version "); n != 2+host {
		t.Errorf("the console shows %d kernel boots, want %d", n, 2+host)
	}
	fmt.Fprintf(os.Stderr, "phase %-34s %-8s %6.0fs\n", "health steps", map[bool]string{true: "pass", false: "FAIL"}[!t.Failed()], time.Since(start).Seconds())
}

// healthOnTestbed asserts what the testbed's [health] policy (build.sh
// --health: on_failure = "rollback", reboot_attempts = 1, the
// boot-complete.target gate) did in the ostree-upgrade-to-bad step, and
// returns how many boots the host made by itself (its retry and its
// rollback's reboot):
//   - the first boot of 12.4 fails runtime.* and the site check, and its
//     record orders a reboot of the same deployment, attempt 1 of 2;
//   - the second boot of 12.4 fails again and orders the rollback,
//     attempt 2 of 2;
//   - the third boot runs 12.2 again, recovered, named a rollback by
//     atomic-selftest ordered by the second record;
//   - boot-complete.target (the gate): never reached on either failing
//     boot, reached on the recovered one, from each boot's journal; and on
//     the boot the host is on now (a good boot) systemctl shows it active.
func healthOnTestbed(ctx context.Context, t *testing.T, m *Machine, info *testbedInfo, bad *report.StepReport) int {
	t.Helper()
	r := bad.HostRollback
	if r == nil || r.FailedRecord == nil || r.FailedRecord.Health == nil {
		t.Errorf("step %s: no host rollback", bad.Name)
		return 0
	}
	if len(r.Reboots) != 1 {
		t.Errorf("step %s: %d reboots of 12.4 by the host before its rollback, want 1 (reboot_attempts = 1)", bad.Name, len(r.Reboots))
		return 1 + len(r.Reboots)
	}
	rb := r.Reboots[0]
	if h := rb.Record.Health; h == nil || h.Action != record.HealthReboot || h.Attempt != 1 || h.MaxAttempts != 2 ||
		rb.Record.Deployment == nil || rb.Record.Deployment.Checksum != info.Bad.Checksum || !strings.Contains(rb.Reason, "runtime.") {
		t.Errorf("step %s: the first failing record's health %+v on %v (%s), want a reboot of %s, attempt 1 of 2, for runtime.*", bad.Name, h, rb.Record.Deployment, rb.Reason, info.Bad.Checksum)
	}
	if h := r.FailedRecord.Health; h.Action != record.HealthRollback || h.Attempt != 2 || h.MaxAttempts != 2 {
		t.Errorf("step %s: the second failing record's health %+v, want the rollback, attempt 2 of 2", bad.Name, h)
	}
	if bad.Record == nil || bad.Record.Transition == nil || bad.Record.Transition.ActionRecord != r.FailedRecord.ID || !bad.Record.Summary.OK {
		t.Errorf("step %s: the recovered record %+v, want a passing boot rolled back to by %s", bad.Name, bad.Record, r.FailedRecord.ID)
	}
	if !strings.Contains(bad.Message, "after 1 reboot(s) of the same deployment by the host (boot "+record.Short(rb.BootID)) {
		t.Errorf("step %s: message %q does not show the host's reboot", bad.Name, bad.Message)
	}
	if _, err := os.Stat(filepath.Join(bad.Artifacts, "record-rebooted-boot-1.json")); err != nil {
		t.Errorf("step %s: %v", bad.Name, err)
	}
	// The gate, boot by boot, from each boot's journal: on a failing boot
	// the run fails the unit boot-complete.target requires, and the
	// health action's reboot then cancels the target's start job, which
	// systemd does not log: either way no start job of the target, or of
	// the blesser after it, ends "done". The recovered boot reaches both.
	for _, b := range []struct {
		what, boot string
		reached    bool
	}{
		{"the first failing boot", rb.BootID, false},
		{"the second failing boot", r.FailedBootID, false},
		{"the recovered boot", bad.BootID, true},
	} {
		done := startJobsDone(ctx, t, m, b.boot)
		for _, u := range []string{"boot-complete.target", testbedBless} {
			if done[u] != b.reached {
				t.Errorf("step %s: %s (%s): %s reached %v, want %v (start jobs done: %v)", bad.Name, b.what, record.Short(b.boot), u, done[u], b.reached, done)
			}
		}
	}
	// And through systemctl on the boot the host is on now, a good one:
	// the target is active once the boot run passed (bounded: the run may
	// still be reporting when the driver has its record).
	var state string
	for end := time.Now().Add(2 * time.Minute); ; time.Sleep(2 * time.Second) {
		res, err := m.Run(ctx, time.Minute, "systemctl", "show", "-P", "ActiveState", "boot-complete.target")
		state = strings.TrimSpace(string(res.Stdout))
		if (err == nil && state == "active") || time.Now().After(end) {
			break
		}
	}
	if state != "active" {
		t.Errorf("boot-complete.target is %q on the current (good) boot, want active", state)
	}
	return 1 + len(r.Reboots)
}

// testbedBless is build.sh's stand-in for systemd-bless-boot.service.
const testbedBless = "atomic-selftest-testbed-bless.service"

// startJobsDone says which of boot-complete.target and the blesser had a
// start job end "done" on one boot, from that boot's journal (systemd
// logs a job's end with UNIT, JOB_TYPE and JOB_RESULT). The boot's
// journal must be there: journalctl fails for a boot it does not have.
func startJobsDone(ctx context.Context, t *testing.T, m *Machine, boot string) map[string]bool {
	t.Helper()
	done := map[string]bool{}
	res, err := m.Run(ctx, time.Minute, "journalctl", "-b", strings.ReplaceAll(boot, "-", ""), "-u", "boot-complete.target", "-u", testbedBless,
		"-o", "json", "--output-fields=UNIT,JOB_TYPE,JOB_RESULT", "--no-pager")
	if err != nil || res.ExitCode != 0 {
		t.Errorf("journalctl -b %s: %v, exit %d (%s)", boot, err, res.ExitCode, res.Stderr)
		return done
	}
	sc := bufio.NewScanner(bytes.NewReader(res.Stdout))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		// journalctl prints a field that is not valid UTF-8 as an array
		// of bytes: any, not string.
		var e struct {
			Unit   any `json:"UNIT"`
			Type   any `json:"JOB_TYPE"`
			Result any `json:"JOB_RESULT"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Type == "start" && e.Result == "done" {
			if u, ok := e.Unit.(string); ok {
				done[u] = true
			}
		}
	}
	return done
}

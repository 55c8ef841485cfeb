package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// signalsLoopUnit is the restart-looping transient unit signalsOnTestbed
// starts. Its name must not start with "atomic-selftest": the units.*
// checks leave the self-test's own units out.
const signalsLoopUnit = "selftest-restart-loop.service"

// signalsKmsgLine is the kernel warning signalsOnTestbed writes into the
// boot's log, in the form kola's consoleChecks "kernel warning" matches
// (`WARNING: CPU: \d+ PID: \d+ at (.+)`, coreos-assembler
// mantle/kola/harness.go). The kernel files a line written to /dev/kmsg
// under LOG_USER, and journald keeps it with _TRANSPORT=kernel and
// "WARNING" split off as its identifier; journal.kernel joins them again.
const signalsKmsgLine = "<4>WARNING: CPU: 0 PID: 1 at atomic-selftest/outer/qemu: a kernel warning from the cycle\n"

// signalsOnTestbed is issue 23's proof on the VM, without a reboot: a
// kernel warning written into this boot's log and a restart-looping unit
// are both caught by a manual run of journal.kernel and units.restarts,
// each with its evidence. It runs before the cycle's first reboot, so
// the warning stays in a boot whose records the cycle does not judge.
func signalsOnTestbed(ctx context.Context, t *testing.T, m *Machine) {
	t.Helper()
	start := time.Now()
	// /dev/kmsg takes one record per write(2); the shell's printf of a
	// constant makes exactly one (no interpolation).
	if res, err := m.Run(ctx, time.Minute, "sh", "-c", "printf '"+strings.TrimSuffix(signalsKmsgLine, "\n")+"\\n' > /dev/kmsg"); err != nil {
		t.Errorf("writing the kernel warning to /dev/kmsg: %v (%s)", err, res.Stderr)
		return
	}
	// Restart=always with no start limit, so the unit keeps looping
	// (the default limit, 5 starts in 10 s, would fail it after 4).
	if res, err := m.Run(ctx, time.Minute, "systemd-run", "--unit="+signalsLoopUnit, "-p", "Restart=always", "-p", "RestartSec=1",
		"-p", "StartLimitIntervalSec=0", "/bin/false"); err != nil {
		t.Errorf("systemd-run %s: %v (%s)", signalsLoopUnit, err, res.Stderr)
		return
	}
	defer func() {
		// Whichever way the test ends: stop it and forget it, so no
		// later run of this boot sees it.
		_, _ = m.Run(context.Background(), time.Minute, "systemctl", "stop", signalsLoopUnit)
		_, _ = m.Run(context.Background(), time.Minute, "systemctl", "reset-failed", signalsLoopUnit)
	}()
	// Past the default units.max_restarts (3), bounded.
	const threshold = 3
	restarts := 0
	for deadline := time.Now().Add(90 * time.Second); restarts <= threshold; time.Sleep(time.Second) {
		res, err := m.Run(ctx, time.Minute, "systemctl", "show", "-p", "NRestarts", "--value", signalsLoopUnit)
		if err != nil {
			t.Errorf("systemctl show %s: %v", signalsLoopUnit, err)
			return
		}
		restarts, _ = strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
		if time.Now().After(deadline) {
			t.Errorf("%s restarted %d times in 90 s, want more than %d", signalsLoopUnit, restarts, threshold)
			return
		}
	}
	checks := []string{"journal.kernel", "units.restarts"}
	res, err := m.Run(ctx, 5*time.Minute, "atomic-selftest", "run", "--no-save", "--report", "no", "--format", "json",
		"--check", strings.Join(checks, ","))
	var rec record.Record
	if jerr := json.Unmarshal(res.Stdout, &rec); jerr != nil {
		t.Errorf("atomic-selftest run --check %s (%v): %v; stderr %s", strings.Join(checks, ","), err, jerr, res.Stderr)
		return
	}
	// What each failure message names, and what its evidence does.
	wants := map[string][2]string{
		"journal.kernel": {"WARNING: CPU: 0 PID: 1 at atomic-selftest/outer/qemu", "WARNING: CPU: 0 PID: 1 at atomic-selftest/outer/qemu"},
		"units.restarts": {signalsLoopUnit + " restarted ", signalsLoopUnit + " NRestarts"},
	}
	for _, id := range checks {
		var got *record.Result
		for i := range rec.Checks {
			if rec.Checks[i].ID == id {
				got = &rec.Checks[i]
			}
		}
		if got == nil {
			t.Errorf("signals run: no result for %s", id)
			continue
		}
		evidence := false
		for _, e := range got.Evidence {
			if e.Seen != "" && strings.Contains(e.Name+" "+e.Seen, wants[id][1]) {
				evidence = true
			}
		}
		switch {
		case got.Status != record.StatusFail:
			t.Errorf("signals run: %s %s (%s), want fail", id, got.Status, got.Message)
		case !strings.Contains(got.Message, wants[id][0]):
			t.Errorf("signals run: %s %q does not name %q", id, got.Message, wants[id][0])
		case !evidence:
			t.Errorf("signals run: %s evidence %+v lacks %q", id, got.Evidence, wants[id][1])
		default:
			fmt.Fprintf(os.Stderr, "  signals %-16s fail (as wanted) %s\n", id, got.Message)
		}
	}
	fmt.Fprintf(os.Stderr, "phase %-34s %-8s %6.0fs\n", "kernel warning and restart loop", map[bool]string{true: "pass", false: "FAIL"}[!t.Failed()], time.Since(start).Seconds())
}

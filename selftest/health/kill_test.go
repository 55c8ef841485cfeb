package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// The points a run of the stage machine is killed at: after each state
// write, and between the saved record and the reboot-requested stage.
const stageRecordSaved = "record-saved"

var killPoints = []string{record.HealthStageDecided, stageToolReturned, record.HealthStageRollbackWritten, stageRecordSaved, record.HealthStageRebootRequested}

// fileRebooter appends to a file for each reboot request, so the parent
// test sees requests made by a helper process.
type fileRebooter string

func (f fileRebooter) RequestReboot(context.Context) error {
	fh, err := os.OpenFile(string(f), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = fh.WriteString("reboot\n")
	return err
}

// killHost is a real sysroot plus a results directory; each boot's run
// reads the booted deployment from the sysroot's boot order (the
// bootloader boots the default).
type killHost struct {
	t           *testing.T
	sr          *ostreetest.Sysroot
	results     string
	reboots     string
	argv        []string
	newer, olde string
}

// rec is the failing run of a boot of checksum booted.
func (k *killHost) rec(bootID, booted, kind string) *record.Record {
	rec := failedRun(kind, false)
	rec.Start, rec.BootID = time.Now(), bootID
	rec.Deployment.Checksum = booted
	for _, e := range k.sr.Status() {
		if e.Checksum != booted {
			rec.Deployment.Rollback = fmt.Sprintf("%s/%s.%d", e.OSName, e.Checksum, e.Serial)
			break
		}
	}
	rec.Deployment.OSName = "fedora-atomic"
	return rec
}

func (k *killHost) env(bootID string, tool Tool) *Env {
	st, err := store.Open(k.results)
	if err != nil {
		k.t.Fatal(err)
	}
	p := config.Defaults().Health
	p.OnFailure, p.RebootAttempts, p.RollbackCommand = "rollback", 0, k.argv
	return &Env{Store: st, Policy: p, BootID: bootID, Tool: tool, Rebooter: fileRebooter(k.reboots)}
}

// countingTool counts rollbacks in the parent process.
type countingTool struct {
	Tool
	n int
}

func (c *countingTool) Rollback(ctx context.Context) error {
	c.n++
	return c.Tool.Rollback(ctx)
}

// runHealthStep is what session.Run does: prepare, save, reboot.
func runHealthStep(env *Env, rec *record.Record) error {
	pending, err := Prepare(context.Background(), env, rec)
	if err != nil {
		return err
	}
	if _, err := env.Store.SaveRun(rec); err != nil {
		return err
	}
	reached(stageRecordSaved)
	if pending != nil {
		return pending.Reboot(context.Background())
	}
	return nil
}

// TestKilledActions kills a real process with SIGKILL at each point of
// the stage machine (a power cut there), then boots the host the way its
// bootloader would and runs again: the next run completes or reports the
// action, and the good deployment is never rolled back.
func TestKilledActions(t *testing.T) {
	if os.Getenv("HEALTH_KILL_HELPER") != "" {
		killHelper(t)
		return
	}
	testutil.NeedRoot(t)
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	py := needGI(t)
	for _, point := range killPoints {
		t.Run(point, func(t *testing.T) {
			sr, newer, older := ostreetest.TwoDeployments(t)
			dir := t.TempDir()
			k := &killHost{t: t, sr: sr, results: filepath.Join(dir, "results"), reboots: filepath.Join(dir, "reboots"),
				argv: []string{py, filepath.Join(root, "outer", "family", "rollback.py"), sr.Dir}, newer: newer, olde: older}

			// Boot 1 on the new deployment: the helper decides to roll back
			// and is killed at point.
			cmd := exec.Command(os.Args[0], "-test.run=^TestKilledActions$")
			cmd.Env = append(os.Environ(), "HEALTH_KILL_HELPER="+point, "HEALTH_RESULTS="+k.results, "HEALTH_REBOOTS="+k.reboots,
				"HEALTH_SYSROOT="+sr.Dir, "HEALTH_ARGV="+strings.Join(k.argv, "\x1f"), "HEALTH_BOOTED="+newer)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("helper was not killed at %s: %v\n%s", point, err, out)
			}
			// Every point comes before systemd is asked: the stage is
			// written first, so a kill there is a reboot that never came.
			if requested := readLog(t, k.reboots); requested != "" {
				t.Fatalf("killed at %s, reboot requests %q", point, requested)
			}
			st := k.state()
			if st.Action == nil || st.Action.Action != record.HealthRollback || st.Action.From.Checksum != newer {
				t.Fatalf("state after the kill: %+v", st.Action)
			}

			// Boot 2: the bootloader boots the default.
			booted := sr.Status()[0].Checksum
			wantBooted := older
			if point == record.HealthStageDecided {
				wantBooted = newer // the kill came before the tool ran
			}
			if booted != wantBooted {
				t.Fatalf("killed at %s, boot 2 starts %s, want %s", point, booted[:10], wantBooted[:10])
			}
			kind := record.TransitionRollback
			if booted == newer {
				kind = record.TransitionSame
			}
			tool := &countingTool{Tool: commandTool{argv: k.argv, cmd: selftest.ExecCommander{}}}
			rec := k.rec("boot2", booted, kind)
			if err := runHealthStep(k.env("boot2", tool), rec); err != nil {
				t.Fatal(err)
			}
			st = k.state()
			switch point {
			case record.HealthStageDecided:
				// Nothing was written: the rollback is carried on, once.
				if tool.n != 1 || rec.Health.Action != record.HealthRollback || !strings.Contains(rec.Health.Reason, "carrying on") {
					t.Fatalf("boot 2: %d rollbacks, %+v", tool.n, rec.Health)
				}
			default:
				if tool.n != 0 || rec.Health.Action != record.HealthRefused || !strings.Contains(rec.Health.Reason, "the rollback happened") {
					t.Fatalf("boot 2: %d rollbacks, %+v", tool.n, rec.Health)
				}
				if st.Action.Stage != record.HealthStageDone {
					t.Fatalf("boot 2 left the action at %s", st.Action.Stage)
				}
			}

			// Boot 3 (after the carried-on reboot, or any later boot): the
			// good deployment is booted and passes; nothing rolls back.
			booted = sr.Status()[0].Checksum
			if booted != older {
				t.Fatalf("boot 3 starts %s, want the good %s", booted[:10], older[:10])
			}
			rec = k.rec("boot3", booted, record.TransitionRollback)
			rec.Checks = rec.Checks[2:]
			rec.Summary = record.Summarise(rec.Checks)
			if err := runHealthStep(k.env("boot3", tool), rec); err != nil {
				t.Fatal(err)
			}
			st = k.state()
			if st.Action.Stage != record.HealthStageDone || st.LastGood != older || len(st.RolledBackFrom) != 1 || st.RolledBackFrom[0] != newer {
				t.Fatalf("boot 3 state: %+v", st)
			}
			if sr.Status()[0].Checksum != older || tool.n > 1 {
				t.Fatalf("the good deployment was rolled back: order %+v, %d rollbacks", sr.Status(), tool.n)
			}
		})
	}
}

func (k *killHost) state() *State {
	st, err := store.Open(k.results)
	if err != nil {
		k.t.Fatal(err)
	}
	s, err := ReadState(st)
	if err != nil {
		k.t.Fatal(err)
	}
	return s
}

// killHelper is the killed process: boot 1's run, killed at
// $HEALTH_KILL_HELPER.
func killHelper(t *testing.T) {
	point := os.Getenv("HEALTH_KILL_HELPER")
	afterStage = func(stage string) {
		if stage == point {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	k := &killHost{t: t, sr: &ostreetest.Sysroot{T: t, Dir: os.Getenv("HEALTH_SYSROOT")}, results: os.Getenv("HEALTH_RESULTS"),
		reboots: os.Getenv("HEALTH_REBOOTS"), argv: strings.Split(os.Getenv("HEALTH_ARGV"), "\x1f")}
	env := k.env("boot1", nil)
	rec := k.rec("boot1", os.Getenv("HEALTH_BOOTED"), record.TransitionUpgrade)
	if err := runHealthStep(env, rec); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("not killed at %s", point)
}

package health

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// fakeTool and fakeRebooter count calls; they stand in for the tool and
// systemd in the stage-machine tests (the real ones are tested in
// tool_test.go and reboot_test.go).
type fakeTool struct {
	calls int
	err   error
}

func (f *fakeTool) Name() string { return "command" }
func (f *fakeTool) Rollback(context.Context) error {
	f.calls++
	return f.err
}

type fakeRebooter struct{ calls int }

func (f *fakeRebooter) RequestReboot(context.Context) error {
	f.calls++
	return nil
}

// host simulates a host across reboots: its deployments in boot order,
// the booted one, and the results directory.
type host struct {
	t        *testing.T
	st       *store.Store
	order    []string // checksums, default first
	booted   string
	boot     int
	tool     *fakeTool
	rebooter *fakeRebooter
}

func newHost(t *testing.T) *host {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := &host{t: t, st: st, order: []string{csumNew, csumOld}, booted: csumNew, boot: 1, rebooter: &fakeRebooter{}}
	h.tool = &fakeTool{}
	return h
}

func (h *host) bootID() string { return strings.Repeat(string(rune('0'+h.boot)), 32) }

// reboot boots the default deployment, as the bootloader does.
func (h *host) reboot() {
	h.boot++
	h.booted = h.order[0]
}

// run is one boot-triggered run whose required check fails (or passes)
// on transition kind; it saves the record and requests the reboot like
// session.Run.
func (h *host) run(p string, attempts int, kind string, pass bool) *record.Health {
	h.t.Helper()
	rec := failedRun(kind, false)
	rec.Start = time.Now()
	rec.BootID = h.bootID()
	rec.Deployment.Checksum = h.booted
	for _, c := range h.order {
		if c != h.booted {
			rec.Deployment.Rollback = "fedora-atomic/" + c + ".0"
			break
		}
	}
	if pass {
		rec.Checks = rec.Checks[2:]
		rec.Summary = record.Summarise(rec.Checks)
	}
	tool := &rollbackOrder{h: h}
	env := &Env{Store: h.st, Policy: policy(p, attempts), BootID: h.bootID(), Tool: tool, Rebooter: h.rebooter}
	pending, err := Prepare(context.Background(), env, rec)
	if err != nil {
		h.t.Fatalf("boot %d: %v", h.boot, err)
	}
	if _, err := h.st.SaveRun(rec); err != nil {
		h.t.Fatal(err)
	}
	if pending != nil {
		if err := pending.Reboot(context.Background()); err != nil {
			h.t.Fatal(err)
		}
	}
	return rec.Health
}

// rollbackOrder swaps the first two deployments, what every tool does.
type rollbackOrder struct{ h *host }

func (r *rollbackOrder) Name() string { return "command" }
func (r *rollbackOrder) Rollback(ctx context.Context) error {
	if err := r.h.tool.Rollback(ctx); err != nil {
		return err
	}
	r.h.order[0], r.h.order[1] = r.h.order[1], r.h.order[0]
	return nil
}

func (h *host) state() *State {
	h.t.Helper()
	s, err := ReadState(h.st)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// TestAttemptsAcrossReboots: with reboot_attempts = 1, the first failed
// boot of an upgrade reboots, the second rolls back, the rollback target
// failing too stays, and nothing loops.
func TestAttemptsAcrossReboots(t *testing.T) {
	h := newHost(t)
	got := h.run("rollback", 1, record.TransitionUpgrade, false)
	if got.Action != record.HealthReboot || got.Attempt != 1 || got.MaxAttempts != 2 || got.Stage != record.HealthStageRebootRequested || got.RebootRequestedAt.IsZero() {
		t.Fatalf("boot 1: %+v", got)
	}
	if s := h.state(); s.Attempts[csumNew].Count != 1 || s.Action.Stage != record.HealthStageRebootRequested || h.rebooter.calls != 1 || h.tool.calls != 0 {
		t.Fatalf("after boot 1: %+v, %d reboots, %d rollbacks", s, h.rebooter.calls, h.tool.calls)
	}

	h.reboot()
	got = h.run("rollback", 1, record.TransitionSame, false)
	if got.Action != record.HealthRollback || got.Attempt != 2 || got.To.Checksum != csumOld || got.Tool != "command" ||
		!strings.Contains(got.Reason, "the reboot happened") {
		t.Fatalf("boot 2: %+v", got)
	}
	if h.tool.calls != 1 || h.rebooter.calls != 2 || h.order[0] != csumOld {
		t.Fatalf("boot 2: %d rollbacks, %d reboots, order %v", h.tool.calls, h.rebooter.calls, h.order)
	}

	h.reboot() // boots csumOld: the rollback
	got = h.run("rollback", 1, record.TransitionRollback, false)
	if got.Action != record.HealthRefused || !strings.Contains(got.Reason, "is the target of an earlier rollback and failed too; the host stays on it") ||
		!strings.Contains(got.Reason, "the rollback happened") {
		t.Fatalf("boot 3 (the target fails too): %+v", got)
	}
	s := h.state()
	if s.Action.Stage != record.HealthStageDone || !strings.Contains(s.Action.Completion, "the rollback happened") || h.tool.calls != 1 || h.rebooter.calls != 2 {
		t.Fatalf("after boot 3: %+v, %d rollbacks, %d reboots", s.Action, h.tool.calls, h.rebooter.calls)
	}

	// Someone makes the bad deployment the default again: it is never
	// rolled back twice.
	h.order[0], h.order[1] = csumNew, csumOld
	h.reboot()
	got = h.run("rollback", 1, record.TransitionDeploy, false)
	if got.Action != record.HealthRefused || !strings.Contains(got.Reason, "rolled back from before") || h.tool.calls != 1 {
		t.Fatalf("boot 4: %+v, %d rollbacks", got, h.tool.calls)
	}
}

// TestPassResetsTheSeries: a transient failure, a reboot, a pass: the
// deployment is the last good one and a later failure is not acted on.
func TestPassResetsTheSeries(t *testing.T) {
	h := newHost(t)
	h.run("rollback", 1, record.TransitionUpgrade, false)
	h.reboot()
	if got := h.run("rollback", 1, record.TransitionSame, true); got != nil {
		t.Fatalf("a passing boot has health %+v", got)
	}
	s := h.state()
	if s.LastGood != csumNew || s.Attempts[csumNew] != nil || s.Action.Stage != record.HealthStageDone {
		t.Fatalf("after the pass: %+v", s)
	}
	h.reboot()
	got := h.run("rollback", 1, record.TransitionSame, false)
	if got.Action != record.HealthRefused || !strings.Contains(got.Reason, "the last good run") || h.tool.calls != 0 || h.rebooter.calls != 1 {
		t.Fatalf("later failure: %+v", got)
	}
}

// TestSecondRunOnABootCountsOnce: `run --trigger boot` twice on a boot
// counts one failed boot.
func TestSecondRunOnABootCountsOnce(t *testing.T) {
	h := newHost(t)
	h.run("record", 1, record.TransitionUpgrade, false)
	got := h.run("record", 1, record.TransitionUpgrade, false)
	if got.Action != record.HealthRecord || got.Attempt != 1 || h.state().Attempts[csumNew].Count != 1 {
		t.Fatalf("second run: %+v, state %+v", got, h.state().Attempts[csumNew])
	}
}

// TestToolFailureStays: a failing rollback leaves the host where it is and
// says why, in the record and the state; it is not retried.
func TestToolFailureStays(t *testing.T) {
	h := newHost(t)
	h.tool.err = errors.New("bootc rollback exited with status 1: no rollback available")
	rec := failedRun(record.TransitionUpgrade, true)
	rec.Start, rec.BootID = time.Now(), h.bootID()
	env := &Env{Store: h.st, Policy: policy("rollback", 0), BootID: h.bootID(), Tool: h.tool, Rebooter: h.rebooter}
	pending, err := Prepare(context.Background(), env, rec)
	if err == nil || pending != nil || rec.Health.Error != h.tool.err.Error() || rec.Health.Stage != record.HealthStageDone {
		t.Fatalf("tool failure: %v %v %+v", err, pending, rec.Health)
	}
	if s := h.state(); s.Action.Stage != record.HealthStageDone || s.Action.Error == "" || h.rebooter.calls != 0 {
		t.Fatalf("state: %+v", s.Action)
	}
}

// TestGarbledStateRefuses: a state file that cannot be read is kept and
// the policy refuses, because it cannot count.
func TestGarbledStateRefuses(t *testing.T) {
	h := newHost(t)
	path := filepath.Join(h.st.Dir, StateFile)
	if err := os.WriteFile(path, []byte("{garbled"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := h.run("rollback", 0, record.TransitionUpgrade, false)
	if got.Action != record.HealthRefused || !strings.Contains(got.Reason, "the health state cannot be read") || h.tool.calls != 0 {
		t.Fatalf("%+v", got)
	}
	if b, _ := os.ReadFile(path); string(b) != "{garbled" {
		t.Errorf("the garbled state was overwritten: %q", b)
	}
}

// TestStateFileMode: health.json is 0600 like the records.
func TestStateFileMode(t *testing.T) {
	h := newHost(t)
	h.run("record", 1, record.TransitionUpgrade, false)
	fi, err := os.Stat(filepath.Join(h.st.Dir, StateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", fi, err)
	}
}

// TestSameBootCarriesOn: a run killed after the rollback was written, and
// a second boot-triggered run on the same boot (no reboot in between):
// the second run requests the reboot without rolling back again, and a
// third does not request it twice.
func TestSameBootCarriesOn(t *testing.T) {
	h := newHost(t)
	h.runKilledAt(record.HealthStageRollbackWritten)
	if h.tool.calls != 1 || h.rebooter.calls != 0 {
		t.Fatalf("first run: %d rollbacks, %d reboots", h.tool.calls, h.rebooter.calls)
	}
	got := h.run("rollback", 0, record.TransitionSame, false)
	if got.Action != record.HealthRollback || !strings.Contains(got.Reason, "carrying on") || h.tool.calls != 1 || h.rebooter.calls != 1 {
		t.Fatalf("second run: %+v, %d rollbacks, %d reboots", got, h.tool.calls, h.rebooter.calls)
	}
	got = h.run("rollback", 0, record.TransitionSame, false)
	if got.Action != record.HealthRefused || !strings.Contains(got.Reason, "not requested twice") || h.tool.calls != 1 || h.rebooter.calls != 1 {
		t.Fatalf("third run: %+v, %d rollbacks, %d reboots", got, h.tool.calls, h.rebooter.calls)
	}
}

// runKilledAt is a failing run of an upgrade under on_failure = rollback
// that dies right after the state write of stage (the in-process stand-in
// for the SIGKILL of kill_test.go).
func (h *host) runKilledAt(stage string) {
	h.t.Helper()
	afterStage = func(s string) {
		if s == stage {
			panic("killed")
		}
	}
	defer func() {
		afterStage = nil
		if recover() == nil {
			h.t.Fatal("the run was not interrupted")
		}
	}()
	h.run("rollback", 0, record.TransitionUpgrade, false)
}

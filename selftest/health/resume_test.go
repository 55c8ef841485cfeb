package health

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// writeState puts a hand-made health.json in h's results directory, as
// an earlier run (or a damaged disk) left it.
func (h *host) writeState(s *State) {
	h.t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.st.Dir, StateFile), b, 0o600); err != nil {
		h.t.Fatal(err)
	}
}

// TestGarbledActionRefused: an in-flight rollback at stage decided whose
// from is the booted deployment and that has no to panicked Prepare on
// every boot (a nil To), so no record was ever saved. It is refused with
// the reason, the action is closed with what was wrong, and the next boot
// is decided normally.
func TestGarbledActionRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    *Action
		want string
	}{
		{"rollback without to", &Action{Action: record.HealthRollback, Stage: record.HealthStageDecided,
			From: &record.Deployment{OSName: "fedora-atomic", Checksum: csumNew}}, "a rollback without a target (to)"},
		{"rollback without from", &Action{Action: record.HealthRollback, Stage: record.HealthStageRollbackWritten,
			To: &record.Deployment{OSName: "fedora-atomic", Checksum: csumOld}}, "an action without the deployment it acted on (from)"},
		{"unknown stage", &Action{Action: record.HealthReboot, Stage: "exploded",
			From: &record.Deployment{OSName: "fedora-atomic", Checksum: csumNew}}, `unknown stage "exploded"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t)
			tc.a.Record, tc.a.BootID, tc.a.DecidedAt = "run-x", h.bootID(), time.Now()
			h.writeState(&State{Schema: StateSchema, Action: tc.a, RolledBackFrom: []string{csumNew}})
			got := h.run("rollback", 0, record.TransitionUpgrade, false)
			if got == nil || got.Action != record.HealthRefused || !strings.Contains(got.Reason, "the health state's in-flight action is garbled") ||
				!strings.Contains(got.Reason, tc.want) || h.tool.calls != 0 || h.rebooter.calls != 0 {
				t.Fatalf("%+v, %d rollbacks, %d reboots", got, h.tool.calls, h.rebooter.calls)
			}
			s := h.state()
			if s.Action.Stage != record.HealthStageDone || !strings.Contains(s.Action.Completion, tc.want) {
				t.Fatalf("state after the refusal: %+v", s.Action)
			}
		})
	}
}

// TestResumeFollowsTodaysPolicy: a run killed at stage decided before the
// tool wrote the rollback, then the admin sets on_failure = "reboot" (or
// takes the transition out of health.transitions): the next run does not
// carry the rollback on. The same state under the old policy does.
func TestResumeFollowsTodaysPolicy(t *testing.T) {
	for _, tc := range []struct {
		name        string
		onFailure   string
		transitions []string
		rollbacks   int
		want        string
	}{
		{"policy unchanged", "rollback", nil, 1, "carrying on the rollback"},
		{"now reboot", "reboot", nil, 0, "not carried on: health.on_failure is now reboot"},
		{"transition dropped", "rollback", []string{record.TransitionDeploy}, 0, `not carried on: transition "upgrade" is no longer in health.transitions`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHost(t)
			h.runKilledAt(record.HealthStageDecided)
			if s := h.state(); s.Action == nil || s.Action.Stage != record.HealthStageDecided || h.tool.calls != 0 {
				t.Fatalf("after the kill: %+v, %d rollbacks", s.Action, h.tool.calls)
			}

			rec := failedRun(record.TransitionSame, true)
			rec.Start, rec.BootID = time.Now(), h.bootID()
			p := policy(tc.onFailure, 0)
			if tc.transitions != nil {
				p.Transitions = tc.transitions
			}
			env := &Env{Store: h.st, Policy: p, BootID: h.bootID(), Tool: h.tool, Rebooter: h.rebooter}
			if _, err := Prepare(context.Background(), env, rec); err != nil {
				t.Fatal(err)
			}
			if h.tool.calls != tc.rollbacks || !strings.Contains(rec.Health.Reason, tc.want) {
				t.Fatalf("%d rollbacks, health %+v", h.tool.calls, rec.Health)
			}
			if tc.rollbacks == 0 && rec.Health.Action == record.HealthRollback {
				t.Fatalf("rolled back against today's policy: %+v", rec.Health)
			}
		})
	}
}

package session

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

var (
	goodSum = strings.Repeat("a", 64)
	badSum  = strings.Repeat("b", 64)
)

// failingUpgrade: the booted deployment came in by an upgrade and a
// required check fails.
func failingUpgrade() *selftest.Registry {
	reg := &selftest.Registry{}
	reg.Register(&selftest.Check{ID: "fake.deployment", Criterion: "C3", Required: true, Description: "d",
		Run: func(_ context.Context, t *selftest.T) {
			t.UpdateRecord(func(r *record.Record) {
				r.Deployment = &record.Deployment{OSName: "os", Checksum: badSum, Rollback: "os/" + goodSum + ".0"}
				r.Transition = &record.Transition{Kind: record.TransitionUpgrade}
			})
			t.Fail("docker.service is %s, expected %s", "failed", "active")
		}})
	return reg
}

type recordingTool struct{ calls int }

func (r *recordingTool) Name() string                   { return "command" }
func (r *recordingTool) Rollback(context.Context) error { r.calls++; return nil }

// savedFirst is a rebooter that checks, when asked, that the run record
// deciding the reboot is already saved.
type savedFirst struct {
	dir   string
	calls int
	err   error
}

func (s *savedFirst) RequestReboot(context.Context) error {
	s.calls++
	st, _ := store.Open(s.dir)
	recs, _, err := st.Runs(store.Filter{Last: 1})
	if err != nil || len(recs) != 1 || recs[0].Health == nil || recs[0].Health.Action != record.HealthRollback ||
		recs[0].Health.Stage != record.HealthStageRebootRequested {
		s.err = fmt.Errorf("at the reboot request the saved record is %v (%v)", recs, err)
	}
	return nil
}

// TestHealthRollbackOnBoot: a boot-triggered run whose required check
// fails after an upgrade rolls back, saves the record with the action,
// and only then asks for the reboot.
func TestHealthRollbackOnBoot(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.Health.OnFailure, cfg.Health.RebootAttempts = "rollback", 0
	tool, rb := &recordingTool{}, &savedFirst{dir: dir}
	out, err := Run(context.Background(), Options{ResultsDir: dir, Registry: failingUpgrade(), Config: cfg, Trigger: record.TriggerBoot, HealthTool: tool, Rebooter: rb})
	if err != nil || out.SaveErr != nil || out.HealthErr != nil {
		t.Fatalf("run: %v %v %v", err, out.SaveErr, out.HealthErr)
	}
	h := out.Record.Health
	if h == nil || h.Action != record.HealthRollback || h.From.Checksum != badSum || h.To.Checksum != goodSum || h.Attempt != 1 || h.MaxAttempts != 1 ||
		len(h.Failing) != 1 || h.Failing[0].ID != "fake.deployment" || h.Failing[0].Message != "docker.service is failed, expected active" {
		t.Fatalf("health: %+v", h)
	}
	if tool.calls != 1 || rb.calls != 1 || rb.err != nil {
		t.Fatalf("%d rollbacks, %d reboots: %v", tool.calls, rb.calls, rb.err)
	}
	saved, err := store.ReadRecord(out.Path)
	if err != nil || saved.Health == nil || saved.Health.To.Checksum != goodSum {
		t.Fatalf("saved: %v %+v", err, saved)
	}
}

// TestHealthOnlyOnBoot: a manual or deployment-change run never acts and
// records no health, whatever the policy.
func TestHealthOnlyOnBoot(t *testing.T) {
	for _, trigger := range []string{record.TriggerManual, record.TriggerDeploymentChange} {
		dir := t.TempDir()
		cfg := config.Defaults()
		cfg.Health.OnFailure, cfg.Health.RebootAttempts = "rollback", 0
		tool, rb := &recordingTool{}, &savedFirst{dir: dir}
		out, err := Run(context.Background(), Options{ResultsDir: dir, Registry: failingUpgrade(), Config: cfg, Trigger: trigger, HealthTool: tool, Rebooter: rb})
		if err != nil || out.Record.Health != nil || tool.calls != 0 || rb.calls != 0 {
			t.Fatalf("%s: %v health %+v, %d rollbacks, %d reboots", trigger, err, out.Record.Health, tool.calls, rb.calls)
		}
	}
}

// TestHealthDefaultRecords: the shipped policy records the failure and
// does nothing else.
func TestHealthDefaultRecords(t *testing.T) {
	dir := t.TempDir()
	tool, rb := &recordingTool{}, &savedFirst{dir: dir}
	out, err := Run(context.Background(), Options{ResultsDir: dir, Registry: failingUpgrade(), Config: config.Defaults(), Trigger: record.TriggerBoot, HealthTool: tool, Rebooter: rb})
	if err != nil || out.Record.Health == nil || out.Record.Health.Action != record.HealthRecord || tool.calls != 0 || rb.calls != 0 {
		t.Fatalf("%v %+v %d %d", err, out.Record.Health, tool.calls, rb.calls)
	}
}

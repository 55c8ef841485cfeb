package health

import (
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// TestJournalEntry: the entry names the decision in its MESSAGE and its
// fields, under its own MESSAGE_ID. (Sending is go-systemd's journal.Send
// to journald's fixed socket, exercised for the run entries by
// selftest/report's TestJournalEntries; binding that socket twice in
// parallel packages would race.)
func TestJournalEntry(t *testing.T) {
	d := Decide(policy("rollback", 0), failedRun(record.TransitionUpgrade, true), &State{}, 1)
	h := d.Health
	h.Tool, h.Stage = "bootc", record.HealthStageRebootRequested
	want := "health: rolling back from bbbbbbbbbb(28.2) to aaaaaaaaaa with bootc (attempt 1 of 1); failing: ostree.booted"
	if got := Line(h); got != want {
		t.Errorf("line:\n got %s\nwant %s", got, want)
	}
	f := Fields("run-x", h)
	for k, v := range map[string]string{
		"MESSAGE_ID": MessageID, "ATOMIC_SELFTEST_RUN": "run-x", "ATOMIC_SELFTEST_HEALTH_ACTION": "rollback",
		"ATOMIC_SELFTEST_HEALTH_POLICY": "rollback", "ATOMIC_SELFTEST_HEALTH_STAGE": "reboot-requested",
		"ATOMIC_SELFTEST_ATTEMPT": "1", "ATOMIC_SELFTEST_MAX_ATTEMPTS": "1", "ATOMIC_SELFTEST_FROM": csumNew,
		"ATOMIC_SELFTEST_TO": csumOld, "ATOMIC_SELFTEST_TOOL": "bootc",
	} {
		if f[k] != v {
			t.Errorf("%s = %q, want %q", k, f[k], v)
		}
	}
	refused := Decide(policy("rollback", 0), failedRun(record.TransitionRollback, true), &State{}, 1).Health
	if got := Line(refused); got != "health: policy rollback refused to act: this boot is a rollback; a rollback is never acted on; failing: ostree.booted" {
		t.Errorf("refusal line: %s", got)
	}
	if f := Fields("run-y", refused); f["ATOMIC_SELFTEST_HEALTH_REASON"] != refused.Reason || f["ATOMIC_SELFTEST_TO"] != "" {
		t.Errorf("refusal fields: %v", f)
	}
}

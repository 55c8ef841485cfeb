package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/notice"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// status shows the rollback banner and its attempt counts until `ack`;
// a new rollback brings it back.
func TestAckAndStatusBanner(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 3, 10, 0, 0, time.UTC)
	from := &record.Deployment{OSName: "fedora", Checksum: "abc1234567890", Version: "12.3"}
	to := &record.Deployment{OSName: "fedora", Checksum: "def4567890123", Version: "12.2"}
	saveRun := func(boot string, start time.Time, h *record.Health, tr *record.Transition) string {
		res := []record.Result{{ID: "runtime.service", Criterion: "C5", Required: true, Status: record.StatusFail, Message: "docker.service is failed", Start: start}}
		rec := &record.Record{Schema: record.SchemaVersion, BootID: boot, Trigger: "boot", Start: start, End: start.Add(time.Second),
			Deployment: from, Health: h, Transition: tr, Checks: res, Summary: record.Summarise(res)}
		if _, err := st.SaveRun(rec); err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	health := func(at time.Time) *record.Health {
		return &record.Health{Policy: "rollback", Action: record.HealthRollback, From: from, To: to, Attempt: 2, MaxAttempts: 2, DecidedAt: at,
			Failing: []record.FailingCheck{{ID: "runtime.service", Message: "docker.service is failed"}}}
	}
	code, out, _ := cli(t, "ack", "--results-dir", dir)
	if code != ExitOK || !strings.Contains(out, "no automatic rollback to acknowledge") {
		t.Fatalf("ack with nothing: %d %q", code, out)
	}
	id := saveRun("boot1", at, health(at), nil)
	saveRun("boot2", at.Add(time.Minute), nil, &record.Transition{Kind: record.TransitionRollback, By: record.TransitionByAtomicSelftest, ActionRecord: id})

	banner := "rolled back from 12.3 (abc1234567…) to 12.2 (def4567890…) on 2026-12-07 03:10 UTC: runtime.service failed: docker.service is failed"
	code, out, _ = cli(t, "status", "--results-dir", dir)
	// The current boot's lines first (issue 31), then the banner.
	if code != ExitOK || !strings.HasPrefix(out, "This boot (") || !strings.Contains(out, "\n\n"+banner+"\n") || !strings.Contains(out, "rollback by atomic-selftest") {
		t.Fatalf("status: %d\n%s", code, out)
	}
	code, out, _ = cli(t, "status", "--results-dir", dir, "--format", "json")
	var doc statusDoc
	if err := json.Unmarshal([]byte(out), &doc); code != ExitOK || err != nil {
		t.Fatalf("status json: %d %v\n%s", code, err, out)
	}
	if u := doc.Health.Unacknowledged; u == nil || u.Record != id || u.Health.Attempt != 2 || u.Health.MaxAttempts != 2 || doc.Health.Banner != banner || len(doc.Boots) != 2 {
		t.Fatalf("status json health %+v", doc.Health)
	}
	if !strings.Contains(out, `"attempt": 2`) || !strings.Contains(out, `"max_attempts": 2`) {
		t.Errorf("attempt counts missing from the JSON:\n%s", out)
	}

	code, out, _ = cli(t, "ack", "--results-dir", dir)
	if code != ExitOK || !strings.Contains(out, "acknowledged: "+banner+" (record "+id+")") {
		t.Fatalf("ack: %d %q", code, out)
	}
	code, out, _ = cli(t, "status", "--results-dir", dir)
	if code != ExitOK || strings.Contains(out, "rolled back from") || !strings.Contains(out, "Last health action: rollback (attempt 2 of 2) on 2026-12-07 03:10 UTC, record "+id) {
		t.Fatalf("status after ack: %d\n%s", code, out)
	}
	var ack notice.Ack
	if ok, err := st.ReadJSON(notice.AckFile, &ack); !ok || err != nil || ack.Record != id {
		t.Fatalf("ack file %+v %v", ack, err)
	}

	id2 := saveRun("boot3", at.Add(time.Hour), health(at.Add(time.Hour)), nil)
	code, out, _ = cli(t, "status", "--results-dir", dir)
	if code != ExitOK || !strings.Contains(out, "on 2026-12-07 04:10 UTC") || !strings.Contains(out, id2) {
		t.Fatalf("status after a new rollback: %d\n%s", code, out)
	}
	if code, _, _ := cli(t, "status", "--format", "yaml"); code != ExitUsage {
		t.Errorf("--format yaml: exit %d", code)
	}
	if code, _, _ := cli(t, "ack", "extra"); code != ExitUsage {
		t.Errorf("ack with an argument: exit %d", code)
	}
}

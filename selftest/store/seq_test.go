package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestClockJumpKeepsOrder (issue 24 item 5): records were named and
// pruned by start time, so after a clock set to 2099 and back, the record
// just saved sorted oldest and, with keep = 2, was pruned by its own save
// (last-run.json then named a deleted file). Records are ordered by a
// sequence the store keeps, and the record being saved is never pruned.
func TestClockJumpKeepsOrder(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "results"))
	if err != nil {
		t.Fatal(err)
	}
	future := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, start := range []time.Time{future, future.Add(time.Minute)} {
		r := rec(i, "aaaaaaaa1111")
		r.Start = start
		if _, err := st.SaveRun(r); err != nil {
			t.Fatal(err)
		}
	}
	now := rec(0, "bbbbbbbb2222") // 2026: the clock set right again
	path, err := st.SaveRun(now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Prune(2); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the record just saved was pruned: %v", err)
	}
	runs, _, err := st.Runs(Filter{})
	if err != nil || len(runs) != 2 || runs[1].ID != now.ID || runs[0].Start != future.Add(time.Minute) {
		t.Fatalf("runs after the jump: %d %v", len(runs), err)
	}
	last, _, _ := st.Runs(Filter{Last: 1})
	if len(last) != 1 || last[0].ID != now.ID {
		t.Fatalf("the newest run is not the one saved last: %+v", last)
	}
}

// TestPruneKeepsTheSavedRecord: whatever names sort after it (a file an
// older version wrote, a record restored by hand), the record this store
// saved last survives Prune(1).
func TestPruneKeepsTheSavedRecord(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "results"))
	if err != nil {
		t.Fatal(err)
	}
	r := rec(0, "aaaaaaaa1111")
	path, err := st.SaveRun(r)
	if err != nil {
		t.Fatal(err)
	}
	later := filepath.Join(st.Dir, "run-z-restored.json")
	if err := os.WriteFile(later, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Prune(1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the saved record was pruned: %v", err)
	}
}

// TestSaveRunTwiceSameFile: saving a record again (the session does after
// a failed reboot request) replaces its file; it does not take a new
// sequence number.
func TestSaveRunTwiceSameFile(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "results"))
	if err != nil {
		t.Fatal(err)
	}
	r := rec(0, "aaaaaaaa1111")
	p1, err := st.SaveRun(r)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := st.SaveRun(r)
	if err != nil || p1 != p2 {
		t.Fatalf("%s then %s (%v)", p1, p2, err)
	}
	if runs, _, _ := st.Runs(Filter{}); len(runs) != 1 {
		t.Fatalf("%d records", len(runs))
	}
}

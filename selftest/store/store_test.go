package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func rec(i int, boot string) *record.Record {
	return &record.Record{Schema: record.SchemaVersion, BootID: boot,
		Start: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), End: time.Date(2026, 1, 1, 0, 0, i+1, 0, time.UTC),
		Checks: []record.Result{{ID: "host.var", Criterion: "C1", Status: record.StatusPass}}}
}

func TestSaveListPrune(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "results"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		boot := "aaaaaaaa1111"
		if i >= 3 {
			boot = "bbbbbbbb2222"
		}
		if _, err := st.SaveRun(rec(i, boot)); err != nil {
			t.Fatal(err)
		}
	}
	// A truncated record from an older crash, and a stray file.
	if err := os.WriteFile(filepath.Join(st.Dir, "run-20250101T000000.000000Z-deadbeef.json"), []byte(`{"schema":1,"start":"2025`), 0o600); err != nil {
		t.Fatal(err)
	}
	runs, problems, err := st.Runs(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 5 || len(problems) != 1 || !strings.Contains(problems[0].Error(), "deadbeef") {
		t.Fatalf("runs %d problems %v", len(runs), problems)
	}
	if runs[0].Start.Second() != 0 || runs[4].Start.Second() != 4 {
		t.Error("runs are not oldest first")
	}
	last, _, _ := st.Runs(Filter{Last: 2})
	if len(last) != 2 || last[1].Start.Second() != 4 {
		t.Errorf("--last 2 gave %d runs", len(last))
	}
	byBoot, _, _ := st.Runs(Filter{BootID: "bbbb"})
	if len(byBoot) != 2 {
		t.Errorf("--boot bbbb gave %d runs", len(byBoot))
	}
	removed, err := st.Prune(3)
	if err != nil || removed != 3 {
		t.Fatalf("prune removed %d: %v", removed, err)
	}
	runs, problems, _ = st.Runs(Filter{})
	// The corrupt file was the oldest name and went first.
	if len(runs) != 3 || len(problems) != 0 || runs[0].Start.Second() != 2 {
		t.Errorf("after prune: %d runs, %v", len(runs), problems)
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	for name, data := range map[string]string{
		"not json":      "hello",
		"future schema": `{"schema":99,"start":"2026-01-01T00:00:00Z"}`,
		"no start":      `{"schema":1}`,
		"bad status":    `{"schema":1,"start":"2026-01-01T00:00:00Z","checks":[{"id":"a.b","status":"meh"}]}`,
	} {
		if _, err := record.Decode([]byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReadJSONNamesTheFile(t *testing.T) {
	st, _ := Open(t.TempDir())
	if err := os.WriteFile(filepath.Join(st.Dir, ExpectFile), []byte("{garbled"), 0o600); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	ok, err := st.ReadJSON(ExpectFile, &v)
	if ok || err == nil || !strings.Contains(err.Error(), ExpectFile) {
		t.Errorf("ok %v err %v", ok, err)
	}
	ok, err = st.ReadJSON("missing.json", &v)
	if ok || err != nil {
		t.Errorf("missing file: ok %v err %v", ok, err)
	}
}

func TestOpenTightensMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "r")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}

// Repro (issue 17 item 9): on the old code Open followed a --results-dir
// that is a symbolic link and chmodded the 0755 directory it names to 0700.
func TestOpenRefusesSymlink(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "shared")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o755); err != nil { // past the umask
		t.Fatal(err)
	}
	link := filepath.Join(base, "results")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	_, err := Open(link)
	if err == nil || !strings.Contains(err.Error(), "results directory "+link+" is a symbolic link") {
		t.Errorf("err = %v, want a refusal naming %s", err, link)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o755 {
		t.Errorf("the link's target is now %v, want 0755 untouched", fi.Mode().Perm())
	}
}

// Repro (issue 17 item 9): on the old code a state file that is a symbolic
// link was read through (ok true and the target's contents decoded), and
// a run record read by path likewise.
func TestStateFilesNotFollowed(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "r"))
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(secret, []byte(`{"schema":1,"start":"2026-01-01T00:00:00Z","secret":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ExpectFile, LastDeploymentFile, LastRunFile} {
		path := filepath.Join(st.Dir, name)
		if err := os.Symlink(secret, path); err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		ok, err := st.ReadJSON(name, &v)
		if ok || v != nil || err == nil || !strings.Contains(err.Error(), path+" is a symbolic link") {
			t.Errorf("%s: ok %v v %v err %v", name, ok, v, err)
		}
	}
	path := filepath.Join(st.Dir, "run-20260101T000000.000000Z-aaaaaaaa.json")
	if err := os.Symlink(secret, path); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRecord(path); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("ReadRecord of a link: %v", err)
	}
}

// Repro: on the old code a FIFO planted as expect.json blocked the open
// for ever (this test timed out). A file over the bound is refused naming
// the limit (sparse: no disk is used).
func TestStateFileNotRegularOrTooLarge(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "r"))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(st.Dir, ExpectFile), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		var v any
		_, err := st.ReadJSON(ExpectFile, &v)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO state file blocked")
	}
	big := filepath.Join(st.Dir, LastDeploymentFile)
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 1<<30); err != nil {
		t.Fatal(err)
	}
	var v any
	if _, err := st.ReadJSON(LastDeploymentFile, &v); err == nil || !strings.Contains(err.Error(), "larger than the limit of 16777216 bytes") {
		t.Errorf("1 GiB state file: %v", err)
	}
}

// Repro: on the old code a .lock planted as a link made Lock create the
// file the link names (O_CREAT follows links).
func TestLockRefusesSymlink(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "r"))
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "created-by-root")
	if err := os.Symlink(victim, filepath.Join(st.Dir, lockFile)); err != nil {
		t.Fatal(err)
	}
	unlock, err := st.Lock(context.Background(), time.Second)
	if err == nil {
		unlock()
		t.Error("locked through a symbolic link")
	} else if !strings.Contains(err.Error(), "is a symbolic link") {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Lstat(victim); err == nil {
		t.Error("Lock created the link's target")
	}
}

func TestLockExcludes(t *testing.T) {
	st, _ := Open(t.TempDir())
	unlock, err := st.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file description: a second open in
	// the same process contends like another process would.
	_, err = st.Lock(context.Background(), 100*time.Millisecond)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock2, err := st.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"schema":1,"start":"2026-01-01T00:00:00Z","checks":[{"id":"a.b","status":"pass"}]}`))
	f.Add([]byte(`{"schema":1,"start":"2026-01-01T00:00:00Z","deployment":{"osname":"x","serial":-1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := record.Decode(data)
		if err == nil && (rec.Schema < 1 || rec.Start.IsZero()) {
			t.Fatalf("accepted an invalid record: %+v", rec)
		}
	})
}

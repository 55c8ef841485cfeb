package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lockT takes the store's lock for the rest of the test.
func lockT(t *testing.T, st *Store) {
	t.Helper()
	unlock, err := st.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
}

// TestTornRecordSetAside tears the newest record the store saved (cut to
// nothing, to one byte, to half, short of its closing brace): a run under
// the lock reports it, names where it set it aside, and never reads it as
// valid; the next save and read see only whole records. The same file
// read without the lock (results, status) is reported and left in place.
func TestTornRecordSetAside(t *testing.T) {
	for _, cut := range []string{"empty", "one byte", "half", "no closing brace"} {
		t.Run(cut, func(t *testing.T) {
			st, err := Open(filepath.Join(t.TempDir(), "results"))
			if err != nil {
				t.Fatal(err)
			}
			var newest string
			for i := range 3 {
				if newest, err = st.SaveRun(rec(i, "aaaaaaaa1111")); err != nil {
					t.Fatal(err)
				}
			}
			whole, err := os.ReadFile(newest)
			if err != nil {
				t.Fatal(err)
			}
			n := map[string]int{"empty": 0, "one byte": 1, "half": len(whole) / 2, "no closing brace": len(whole) - 2}[cut]
			if err := os.Truncate(newest, int64(n)); err != nil {
				t.Fatal(err)
			}

			// Without the lock: reported, not moved.
			ro := &Store{Dir: st.Dir}
			runs, problems, err := ro.Runs(Filter{})
			if err != nil || len(runs) != 2 || len(problems) != 1 || !strings.Contains(problems[0].Error(), "not whole JSON") {
				t.Fatalf("read-only: %d runs, problems %v, %v", len(runs), problems, err)
			}
			if _, err := os.Stat(newest); err != nil {
				t.Fatalf("a read without the lock moved the torn record: %v", err)
			}

			lockT(t, st)
			runs, problems, err = st.Runs(Filter{})
			if err != nil || len(runs) != 2 || len(problems) != 1 {
				t.Fatalf("%d runs, problems %v, %v", len(runs), problems, err)
			}
			msg := problems[0].Error()
			if !strings.Contains(msg, filepath.Base(newest)) || !strings.Contains(msg, "not whole JSON") || !strings.Contains(msg, "set aside as damaged-") {
				t.Errorf("problem: %s", msg)
			}
			if _, err := os.Stat(newest); !os.IsNotExist(err) {
				t.Errorf("the torn record is still under its name: %v", err)
			}
			aside, _ := filepath.Glob(filepath.Join(st.Dir, "damaged-*-"+filepath.Base(newest)))
			if len(aside) != 1 {
				t.Fatalf("set-aside files: %v", aside)
			}
			if b, _ := os.ReadFile(aside[0]); len(b) != n {
				t.Errorf("the set-aside file holds %d bytes, the torn record had %d", len(b), n)
			}
			if _, err := st.SaveRun(rec(9, "bbbbbbbb2222")); err != nil {
				t.Fatal(err)
			}
			runs, problems, _ = st.Runs(Filter{})
			if len(runs) != 3 || len(problems) != 0 || runs[2].BootID != "bbbbbbbb2222" {
				t.Errorf("after the next save: %d runs, problems %v", len(runs), problems)
			}
		})
	}
}

// A record that is whole JSON but not one this build reads (a newer
// schema after a downgrade) is not torn: reported, never set aside.
func TestWholeButUnreadableRecordStays(t *testing.T) {
	st, _ := Open(t.TempDir())
	path := filepath.Join(st.Dir, "run-s000000000001-20260101T000000.000000Z-aaaaaaaa.json")
	if err := os.WriteFile(path, []byte(`{"schema":99,"start":"2026-01-01T00:00:00Z"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lockT(t, st)
	_, problems, _ := st.Runs(Filter{})
	if len(problems) != 1 || strings.Contains(problems[0].Error(), "set aside") {
		t.Fatalf("problems %v", problems)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestTornStateFile: ReadJSON of a state file cut short says ErrTorn and
// SetAside moves it only under the lock.
func TestTornStateFile(t *testing.T) {
	st, _ := Open(t.TempDir())
	if err := WriteFile(st.Dir, ExpectFile, []byte(`{"checksum": "abc"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(st.Dir, ExpectFile), 0); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if ok, err := st.ReadJSON(ExpectFile, &v); ok || !errors.Is(err, ErrTorn) || !strings.Contains(err.Error(), ExpectFile) {
		t.Fatalf("ok %v err %v", ok, err)
	}
	if _, err := st.SetAside(ExpectFile, time.Now()); err == nil {
		t.Error("SetAside without the lock moved the file")
	}
	lockT(t, st)
	aside, err := st.SetAside(ExpectFile, time.Date(2026, 12, 7, 1, 2, 3, 4, time.UTC))
	if err != nil || aside != "damaged-20261207T010203.000000004Z-expect.json" {
		t.Fatalf("%q %v", aside, err)
	}
	if ok, err := st.ReadJSON(ExpectFile, &v); ok || err != nil {
		t.Errorf("after SetAside: ok %v err %v", ok, err)
	}
}

// TestCutBeforeRename stops a real write at the instant after its
// temporary file is written and synced, before the rename, and takes the
// results directory as it is then (what a power cut there leaves, the
// data having been fsynced): the old record is read, and the next Lock
// removes the temporary file.
func TestCutBeforeRename(t *testing.T) {
	st, _ := Open(filepath.Join(t.TempDir(), "results"))
	if _, err := st.SaveRun(rec(1, "aaaaaaaa1111")); err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "after-the-cut")
	beforeRename = func(string) { copyDir(t, st.Dir, cut) }
	defer func() { beforeRename = nil }()
	if _, err := st.SaveRun(rec(2, "aaaaaaaa1111")); err != nil {
		t.Fatal(err)
	}
	beforeRename = nil

	after := &Store{Dir: cut}
	strays, _ := filepath.Glob(filepath.Join(cut, ".tmp-*"))
	if len(strays) != 1 || !isStray(filepath.Base(strays[0])) {
		t.Fatalf("the cut left %v", strays)
	}
	lockT(t, after)
	if strays, _ := filepath.Glob(filepath.Join(cut, ".tmp-*")); len(strays) != 0 {
		t.Errorf("the next run left %v", strays)
	}
	runs, problems, _ := after.Runs(Filter{})
	if len(runs) != 1 || len(problems) != 0 || runs[0].Start.Second() != 1 {
		t.Errorf("after the cut: %d runs, %v", len(runs), problems)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStraysOnlyOursAndBounded: Lock removes only regular files named as
// writeFile names its temporary files, at most maxStrays at a time.
func TestStraysOnlyOursAndBounded(t *testing.T) {
	st, _ := Open(t.TempDir())
	for i := range maxStrays + 5 {
		f, err := os.CreateTemp(st.Dir, fmt.Sprintf("%srun-s%012d-x.json-*", tmpPrefix, i))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	others := []string{".tmp-foo", ".tmp-x.json-12ab", ".tmp-notjson-123", ".tmp-.json-1", "tmp-x.json-1", ".tmp-x.json-"}
	for _, n := range others {
		if err := os.WriteFile(filepath.Join(st.Dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(st.Dir, ".tmp-d.json-1"), 0o700); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		es, _ := os.ReadDir(st.Dir)
		for _, e := range es {
			if e.Type().IsRegular() && isStray(e.Name()) {
				n++
			}
		}
		return n
	}
	for i, want := range []int{5, 0} {
		unlock, err := st.Lock(context.Background(), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		if got := count(); got != want {
			t.Errorf("lock %d: %d strays left, want %d", i+1, got, want)
		}
	}
	for _, n := range append(others, ".tmp-d.json-1") {
		if _, err := os.Lstat(filepath.Join(st.Dir, n)); err != nil {
			t.Errorf("%s, not ours, was removed: %v", n, err)
		}
	}
}

// Open makes the missing directories up to the results directory, the
// results directory 0700 (their names are fsynced into their parents).
func TestOpenMakesParents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "lib", "atomic-selftest")
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%v %v", fi, err)
	}
}

// Prune keeps the newest maxDamaged set-aside files.
func TestPruneDamaged(t *testing.T) {
	st, _ := Open(t.TempDir())
	lockT(t, st)
	for i := range maxDamaged + 3 {
		name := fmt.Sprintf("run-s%012d-x.json", i)
		if err := os.WriteFile(filepath.Join(st.Dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetAside(name, time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Prune(10); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(st.Dir, damagedPrefix+"*"))
	if len(left) != maxDamaged || !strings.Contains(left[0], "T000003") {
		t.Errorf("left %v", left)
	}
}

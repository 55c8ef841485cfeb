package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// TestRunAfterTornFiles: what a power cut on a file system that lost data
// could leave (the last record cut in half, expect.json empty, a temporary
// file of the store's own): the next run sets the torn files aside and
// names them in its problems, removes the temporary file, and saves a
// whole record that the store reads; nothing torn is read as valid.
func TestRunAfterTornFiles(t *testing.T) {
	dir := t.TempDir()
	first, _ := run(t, dir, "c1")
	whole, err := os.ReadFile(first.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(first.Path, int64(len(whole)/2)); err != nil {
		t.Fatal(err)
	}
	st := &store.Store{Dir: dir}
	if err := st.WriteJSON(store.ExpectFile, record.Expectation{Checksum: "c2", CreatedBootID: "an-earlier-boot"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, store.ExpectFile), 0); err != nil {
		t.Fatal(err)
	}
	stray, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(first.Path)+"-*")
	if err != nil {
		t.Fatal(err)
	}
	stray.Close()

	out, seen := run(t, dir, "c1")
	got := strings.Join(out.Problems, "\n")
	for _, want := range []string{filepath.Base(first.Path) + ": not whole JSON", "set aside as damaged-", store.ExpectFile + ": not whole JSON"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if len(out.Problems) != 2 {
		t.Errorf("%d problems:\n%s", len(out.Problems), got)
	}
	if seen.Expectation != nil || out.Record.Expectation != nil {
		t.Errorf("a torn expectation was applied: %+v", seen.Expectation)
	}
	if _, err := os.Stat(stray.Name()); !os.IsNotExist(err) {
		t.Errorf("the temporary file is still there: %v", err)
	}
	for _, name := range []string{filepath.Base(first.Path), store.ExpectFile} {
		if m, _ := filepath.Glob(filepath.Join(dir, "damaged-*-"+name)); len(m) != 1 {
			t.Errorf("%s set aside as %v", name, m)
		}
	}
	runs, problems, err := st.Runs(store.Filter{})
	if err != nil || len(problems) != 0 || len(runs) != 1 || runs[0].ID != out.Record.ID {
		t.Fatalf("after the run: %d runs, problems %v, %v", len(runs), problems, err)
	}
	// The next run has nothing left to report.
	if out, _ := run(t, dir, "c1"); len(out.Problems) != 0 {
		t.Errorf("the next run still reports %v", out.Problems)
	}
}

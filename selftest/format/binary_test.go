package format

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// savedResults is the built atomic-selftest binary with a results
// directory holding runs, saved as the binary saves them (store.SaveRun
// sets each run's ID), for the consumer tests that read the binary's own
// `results --format …` output.
type savedResults struct {
	t   *testing.T
	bin string
	dir string
	st  *store.Store
}

func newSavedResults(t *testing.T, runs ...*record.Record) *savedResults {
	t.Helper()
	s := &savedResults{t: t, bin: testutil.BuildBinary(t, "./cmd/atomic-selftest"), dir: filepath.Join(t.TempDir(), "results")}
	var err error
	if s.st, err = store.Open(s.dir); err != nil {
		t.Fatal(err)
	}
	for _, rec := range runs {
		s.save(rec)
	}
	return s
}

func (s *savedResults) save(rec *record.Record) {
	s.t.Helper()
	if _, err := s.st.SaveRun(rec); err != nil {
		s.t.Fatal(err)
	}
}

// results runs `atomic-selftest results --last LAST --format FORMAT`.
func (s *savedResults) results(last, format string) []byte {
	s.t.Helper()
	out, err := exec.Command(s.bin, "results", "--results-dir", s.dir, "--last", last, "--format", format).Output()
	if err != nil {
		s.t.Fatalf("atomic-selftest results --last %s --format %s: %v\n%s", last, format, err, stderrOf(err))
	}
	return out
}

func stderrOf(err error) []byte {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.Stderr
	}
	return nil
}

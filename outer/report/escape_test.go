package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// The criteria table (stdout and criteria.txt) shows a host's strings
// escaped: a host name, a message and a check status with ESC and CR in
// them cannot rewrite what the operator reads.
func TestTableEscapesHostStrings(t *testing.T) {
	rep := &Report{Plan: "default", Hosts: []*HostReport{{Host: "evil\x1b]0;owned\x07", Steps: []*StepReport{{
		Name: "upgrade", Criterion: "C3", Status: StepFail,
		Message: "collect: booted 28.1\r28.2 ok\x1b[1A",
		Record:  &record.Record{Checks: []record.Result{{ID: "x", Criterion: "C9\x1b[2K", Status: "pass\rFAIL"}}},
	}}}}}
	dir := t.TempDir()
	if err := rep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "criteria.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(string(out), "\x1b\r\x07") {
		t.Errorf("control characters in criteria.txt:\n%q", out)
	}
	for _, want := range []string{`evil\x1b]0;owned\a: FAIL`, `upgrade: collect: booted 28.1\r28.2 ok\x1b[1A`, `C9\x1b[2K`, `pass\rFAIL`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("criteria.txt lacks %q:\n%s", want, out)
		}
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Issue 17.1 through the real binary: a 1 GB syslinux.cfg or daemon.json
// in an image made `run --sysroot IMG` die with "fatal error: runtime:
// out of memory" (exit 2, no record), and a daemon.json linking to
// /etc/shadow quoted the live host's shadow. Now both images give a
// failed run (exit 1) with a record that names the file and the limit
// and never the live host's file.
func TestRunSysrootHostileImage(t *testing.T) {
	for _, huge := range []bool{true, false} {
		img := ostreetest.HostileImage(t, huge)
		dir := t.TempDir()
		start := time.Now()
		code, out := runBinary(t, "run", "--sysroot", img.Dir, "--results-dir", dir, "--format", "json")
		t.Logf("huge=%v: exit %d in %s", huge, code, time.Since(start).Round(time.Millisecond))
		if code != ExitFailed {
			t.Fatalf("huge=%v: exit %d, want %d (failed checks, a record):\n%s", huge, code, ExitFailed, out)
		}
		if strings.Contains(out, img.Secret) {
			t.Errorf("huge=%v: the output quotes the live host's file:\n%s", huge, out)
		}
		var rec record.Record
		if err := json.Unmarshal([]byte(out), &rec); err != nil {
			t.Fatalf("huge=%v: the output is not a record: %v\n%s", huge, err, out)
		}
		runs, _ := filepath.Glob(filepath.Join(dir, "run-*.json"))
		if len(runs) != 1 {
			t.Errorf("huge=%v: %d records saved in %s, want 1", huge, len(runs), dir)
		}
		for _, p := range runs {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), img.Secret) {
				t.Errorf("huge=%v: the saved record quotes the live host's file", huge)
			}
		}
		want := map[bool]string{
			true:  "reading /boot/loader/syslinux.cfg: larger than the 1 MiB limit for boot loader configuration",
			false: "reading /boot/loader/syslinux.cfg: not a regular file (a character device)",
		}[huge]
		found := false
		for _, c := range rec.Checks {
			if c.ID == "ostree.bootloader" {
				found = strings.Contains(c.Message, want)
				if !found {
					t.Errorf("huge=%v: ostree.bootloader %s %q lacks %q", huge, c.Status, c.Message, want)
				}
			}
		}
		if !found {
			t.Errorf("huge=%v: ostree.bootloader did not report %q", huge, want)
		}
	}
}

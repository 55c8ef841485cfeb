// Package journaltest makes real journal files for tests: entries written
// in the journal export format (systemd's docs/JOURNAL_EXPORT_FORMATS.md)
// and stored by systemd-journal-remote, which keeps every field as given,
// the trusted ones (_UID, _TRANSPORT, _SYSTEMD_UNIT) included, so a test
// can have both Ignition's entry and a user's forgery of it, then read
// them with the real journalctl.
package journaltest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
)

// remote is where Debian's systemd-journal-remote package installs the
// program (not on PATH).
const remote = "/lib/systemd/systemd-journal-remote"

// File writes entries (field to value; __REALTIME_TIMESTAMP,
// __MONOTONIC_TIMESTAMP and _BOOT_ID are filled when absent, from bootID)
// to a new journal file and returns its path.
func File(t testing.TB, bootID string, entries ...map[string]string) string {
	t.Helper()
	_, err := os.Stat(remote)
	testutil.Need(t, "systemd-journal-remote", err == nil, remote+" is missing")
	testutil.NeedCommand(t, "journalctl", "journalctl")
	var export bytes.Buffer
	for i, e := range entries {
		full := map[string]string{
			"__REALTIME_TIMESTAMP":  fmt.Sprint(1700000000000000 + i*1000000),
			"__MONOTONIC_TIMESTAMP": fmt.Sprint(1000000 + i*1000000),
			"_BOOT_ID":              bootID,
		}
		for k, v := range e {
			full[k] = v
		}
		keys := make([]string, 0, len(full))
		for k := range full {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&export, "%s=%s\n", k, full[k])
		}
		export.WriteString("\n")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "entries.export")
	if err := os.WriteFile(in, export.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "test.journal")
	if b, err := exec.Command(remote, "--output="+out, in).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", remote, err, b)
	}
	return out
}

// Commander runs commands for real, and journalctl on File's journal
// (--file= added to its arguments), so a check's own journalctl query,
// with its matches, reads the test's entries.
type Commander struct{ File string }

func (c Commander) Command(ctx context.Context, timeout time.Duration, argv ...string) ([]byte, []byte, error) {
	if len(argv) > 0 && argv[0] == "journalctl" {
		argv = append([]string{"journalctl", "--file=" + c.File}, argv[1:]...)
	}
	return selftest.ExecCommander{}.Command(ctx, timeout, argv...)
}

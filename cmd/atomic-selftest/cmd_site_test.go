package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/site"
)

// A site check end to end, as an admin adds one: `list` shows it, a run
// saves a record in which the required site check failed the run and
// the site group (not the release criteria), the text names the file and
// its output, and a disable in the configuration takes its id.
func TestSiteCheckEndToEnd(t *testing.T) {
	testutil.NeedCommand(t, "sh", "sh")
	testutil.NeedRoot(t) // a check not root's is refused
	dir := t.TempDir()
	vendor, admin := site.VendorDir, site.AdminDir
	site.VendorDir, site.AdminDir = filepath.Join(dir, "usr"), filepath.Join(dir, "etc")
	t.Cleanup(func() { site.VendorDir, site.AdminDir = vendor, admin })
	p := testutil.WriteFile(t, site.AdminDir, "required/app", "#!/bin/sh\necho 'app: 502 from 127.0.0.1:8080' >&2\nexit 2\n")
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}

	code, out, _ := cli(t, "list")
	if code != ExitOK || !strings.Contains(out, "site.app ") || !strings.Contains(out, p) {
		t.Fatalf("list (exit %d) lacks site.app and its path:\n%s", code, out)
	}

	results := filepath.Join(dir, "results")
	code, out, errs := cli(t, "run", "--check", "site.app", "--check", "host.tree", "--results-dir", results, "--report", "no", "--format", "json")
	if code != ExitFailed {
		t.Fatalf("run: exit %d, want %d (a required site check failed)\n%s\n%s", code, ExitFailed, out, errs)
	}
	var rec record.Record
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatal(err)
	}
	if got := rec.Summary.GroupLine(); got != "release criteria PASS, site checks FAIL" {
		t.Errorf("groups: %q", got)
	}
	if saved, _ := filepath.Glob(filepath.Join(results, "run-*.json")); len(saved) != 1 {
		t.Errorf("saved records: %v", saved)
	}
	code, out, _ = cli(t, "results", "--results-dir", results, "--last", "1")
	if code != ExitOK || !strings.Contains(out, p+" exited 2: app: 502 from 127.0.0.1:8080") || !strings.Contains(out, "summary: release criteria PASS, site checks FAIL") {
		t.Errorf("results (exit %d):\n%s", code, out)
	}

	conf := t.TempDir()
	testutil.WriteFile(t, conf, "50-off.toml", "[checks]\ndisable = [\"site.app\"]\n")
	code, out, errs = cli(t, "run", "--check", "site.app", "--no-save", "--report", "no", "--config-dir", conf)
	if code != ExitOK || !strings.Contains(out, "disabled by configuration") {
		t.Errorf("disabled run: exit %d\n%s\n%s", code, out, errs)
	}
}

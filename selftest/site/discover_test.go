package site

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// Sanitize makes a check name of any file name greenboot ships or an
// admin writes; the rows are greenboot's own scripts
// (greenboot-default-health-checks) and worse.
func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"01_repository_dns_check.sh": "01-repository-dns-check",
		"02_watchdog.sh":             "02-watchdog",
		"App Health!":                "app-health",
		"..sh":                       "unnamed",
		"x\nrm -rf /":                "x-rm--rf",
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// A check.d kind that is a file, not a directory, is one refusal naming
// it; a name in both required and wanted of one directory is refused.
func TestCheckDOddLayouts(t *testing.T) {
	root := t.TempDir()
	write := func(rel string, mode os.FileMode) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("v/required", 0o755)
	write("a/required/both", 0o755)
	write("a/wanted/both", 0o755)
	got := CheckD(rootfs.FS{Root: root}, "/v", "/a")
	if len(got) != 2 {
		t.Fatalf("got %+v", got)
	}
	if got[0].ID != "site.both" || !strings.Contains(got[0].Problem, "is also /a/") {
		t.Errorf("both: %+v", got[0])
	}
	if got[1].ID != "site.required" || got[1].Problem != "/v/required is not a directory" {
		t.Errorf("required as a file: %+v", got[1])
	}
}

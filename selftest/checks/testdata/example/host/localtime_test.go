package host

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// A tree without /etc/localtime keeps UTC; with a link to a zone file it
// passes; with the zone file gone it fails, naming the file.
func TestLocaltime(t *testing.T) {
	root := t.TempDir()
	rc := selftest.NewRunContext(selftest.NewHost(root), nil)
	checktest.Expect(t, checktest.ByID(t, rc, "host.localtime", 0), record.StatusPass, "keeps UTC")

	// An absolute link, as systemd writes it: resolved inside the root.
	zone := testutil.WriteFile(t, root, "usr/share/zoneinfo/Europe/Berlin", "TZif2\x00")
	testutil.WriteFile(t, root, "etc/hostname", "example\n")
	if err := os.Symlink("/usr/share/zoneinfo/Europe/Berlin", filepath.Join(root, "etc/localtime")); err != nil {
		t.Fatal(err)
	}
	checktest.Expect(t, checktest.ByID(t, rc, "host.localtime", 0), record.StatusPass, "/etc/localtime is a time zone file")

	if err := os.Remove(zone); err != nil {
		t.Fatal(err)
	}
	checktest.Expect(t, checktest.ByID(t, rc, "host.localtime", 0), record.StatusFail, "/etc/localtime is set, but cannot be read")
}

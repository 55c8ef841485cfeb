package host

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// A real tree passes; the same tree with /var/tmp's sticky bit cleared
// fails, naming the directory and its mode.
func TestTmp(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"tmp", "var/tmp"} {
		p := filepath.Join(root, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o777|fs.ModeSticky); err != nil {
			t.Fatal(err)
		}
	}
	rc := selftest.NewRunContext(selftest.NewHost(root), nil)
	checktest.Expect(t, checktest.ByID(t, rc, "host.tmp", 0), record.StatusPass, "sticky world-writable")

	if err := os.Chmod(filepath.Join(root, "var/tmp"), 0o777); err != nil {
		t.Fatal(err)
	}
	checktest.Expect(t, checktest.ByID(t, rc, "host.tmp", 0), record.StatusFail,
		"/var/tmp is drwxrwxrwx, not a sticky world-writable directory (1777)")
}

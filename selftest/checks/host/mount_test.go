package host

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

func mountTmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		testutil.Need(t, "tmpfs", false, err.Error())
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
}

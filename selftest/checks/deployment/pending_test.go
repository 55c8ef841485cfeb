package deployment_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/deployment"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// What a reboot would boot, on a real sysroot made by the ostree command:
// nothing, a rollback, an upgrade, and an upgrade whose kernel is gone.
func TestPending(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	// Booted 28.2, the default: nothing pending. The boot started after
	// both were deployed (the boot time tells old deployments from new
	// ones, as for the next boot's deployment.transition).
	root := sr.BootedRoot("fedora-atomic", c2, 0, false)
	ostreetest.SetBootTime(t, root, time.Now().Add(2*time.Second))
	r, _ := checktest.WithDepends(t, ostreetest.LiveHost(root), "deployment.pending")
	checktest.Expect(t, r, record.StatusPass, "nothing pending: the next boot boots the booted fedora-atomic "+c2[:10])

	// rpm-ostree rollback: 28.1 is the default now.
	sr.Rollback()
	r, _ = checktest.WithDepends(t, ostreetest.LiveHost(root), "deployment.pending")
	checktest.Expect(t, r, record.StatusPass, "rollback to 28.1 pending (the new default): the next boot boots fedora-atomic "+c1[:10]+"….0 (28.1) instead of the booted fedora-atomic "+c2[:10])

	// An upgrade to 28.3 (another kernel) on top, deployed after the boot.
	ostreetest.SetBootTime(t, root, time.Now().Add(-time.Second))
	c3 := sr.Commit(ostreetest.Branch, "28.3", "c")
	sr.Deploy("fedora-atomic", ostreetest.Branch)
	r, _ = checktest.WithDepends(t, ostreetest.LiveHost(root), "deployment.pending")
	checktest.Expect(t, r, record.StatusPass, "upgrade to 28.3 pending (the new default): the next boot boots fedora-atomic "+c3[:10]+"….0 (28.3) instead of the booted fedora-atomic "+c2[:10])

	// Its kernel removed from /boot: reported before the reboot.
	kernels, _ := filepath.Glob(filepath.Join(sr.Dir, "boot/ostree/fedora-atomic-*/vmlinuz*"))
	var gone string
	for _, k := range kernels {
		if b, err := os.ReadFile(k); err == nil && string(b) == "kernel c\n" {
			gone = k
		}
	}
	if gone == "" {
		t.Fatalf("no kernel of 28.3 under /boot among %v", kernels)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	r, _ = checktest.WithDepends(t, ostreetest.LiveHost(root), "deployment.pending")
	rel, _ := filepath.Rel(sr.Dir, gone)
	checktest.Expect(t, r, record.StatusFail, "upgrade to 28.3 pending (the new default), but it cannot boot: /"+rel)
}

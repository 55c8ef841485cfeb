package deployment_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/cloudinit"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/deployment"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/host"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/ostree"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/storage"
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

// An upgrade whose tree ships an /etc/docker/daemon.json docker will not
// start on (not JSON) is caught before the reboot: deployment.pending
// runs the offline checks against the pending deployment's checked-out
// tree and its merged /etc, and names the check and the file. A link in
// that tree pointing out of it is followed inside the tree only.
func TestPendingTree(t *testing.T) {
	sr, c2, _ := ostreetest.TwoDeployments(t)
	root := sr.BootedRoot("fedora-atomic", c2, 0, false)
	ostreetest.SetBootTime(t, root, time.Now().Add(-time.Second))
	base := sr.Commit(ostreetest.Branch, "28.3", "c")

	// upgrade commits the branch's head plus overlay files onto the
	// branch and deploys it, the way the testbed's bad releases are made
	// (ostree commit --tree=ref= --tree=dir=); each one replaces the last
	// file set (the commit before is pruned once nothing holds it).
	upgrade := func(version string, files map[string]string, links map[string]string) string {
		t.Helper()
		dir := t.TempDir()
		for rel, data := range files {
			testutil.WriteFile(t, dir, rel, data)
		}
		for rel, target := range links {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(dir, rel)); err != nil {
				t.Fatal(err)
			}
		}
		c := strings.TrimSpace(sr.Run("ostree", "commit", "--repo="+sr.Repo, "--branch="+ostreetest.Branch,
			"--add-metadata-string=version="+version, "--tree=ref="+base, "--tree=dir="+dir))
		sr.Deploy("fedora-atomic", ostreetest.Branch)
		base = c
		return c
	}
	// cloud-init installed: its checks (HostState: they read /var/lib/cloud)
	// would fail on the tree's empty /var and must not run against it.
	unit := map[string]string{"usr/lib/systemd/system/docker.service": "[Service]\nExecStart=/usr/bin/dockerd -H fd://\n",
		"usr/bin/cloud-init": "#!/bin/sh\n"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range unit {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	// A good tree: storage.config and host.tree pass on it.
	c := upgrade("28.4", with(map[string]string{"usr/etc/docker/daemon.json": `{"storage-driver": "overlay2"}`}), nil)
	r, _ := checktest.WithDepends(t, ostreetest.LiveHost(root), "deployment.pending")
	checktest.Expect(t, r, record.StatusPass, "upgrade to 28.4 pending (the new default)", "its tree passes 2 offline checks")
	dir := "/ostree/deploy/fedora-atomic/deploy/" + c + ".0"
	if got := r.Details["tree"]; got != dir {
		t.Errorf("tree judged %v, want %s", got, dir)
	}
	if got, _ := r.Details["tree_checks"].(map[string]string); got["storage.config"] != "pass" || got["host.tree"] != "pass" {
		t.Errorf("tree checks %v, want storage.config and host.tree passing", got)
	}
	for _, id := range []string{"cloudinit.finished", "cloudinit.sshkey", "cloudinit.scripts", "ostree.bootloader"} {
		if st, ran := r.Details["tree_checks"].(map[string]string)[id]; ran {
			t.Errorf("%s (HostState) ran against the pending tree: %s", id, st)
		}
	}

	// daemon.json that is not JSON: dockerd refuses to start on it.
	upgrade("28.5", with(map[string]string{"usr/etc/docker/daemon.json": "{\"storage-driver\": \"overlay2\",\n"}), nil)
	r, _ = checktest.WithDepends(t, ostreetest.LiveHost(root), "deployment.pending")
	checktest.Expect(t, r, record.StatusFail, "upgrade to 28.5 pending (the new default), but its tree fails offline checks: storage.config fail: /etc/docker/daemon.json: ")

	// The admin's daemon.json is a link out of the tree, to a file on the
	// booted host that is not JSON: inside the tree it leads nowhere, so
	// daemon.json is absent there and the tree passes.
	outside := filepath.Join(t.TempDir(), "daemon.json")
	testutil.WriteFile(t, filepath.Dir(outside), "daemon.json", "not json")
	upgrade("28.6", unit, map[string]string{"usr/etc/docker/daemon.json": strings.Repeat("../", 40) + outside[1:]})
	r, _ = checktest.WithDepends(t, ostreetest.LiveHost(root), "deployment.pending")
	checktest.Expect(t, r, record.StatusPass, "upgrade to 28.6 pending", "its tree passes 2 offline checks")
}

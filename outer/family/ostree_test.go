package family

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

func ostreeCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ostree", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ostree %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// realSysroot makes a sysroot with the real ostree command: one stateroot,
// a commit 1.0 on test/ref, deployed.
func realSysroot(t *testing.T) (sysroot, repo, c1 string) {
	testutil.NeedCommand(t, "ostree", "ostree")
	dir := t.TempDir()
	t.Cleanup(func() { exec.Command("chattr", "-R", "-i", dir).Run() })
	sysroot = filepath.Join(dir, "sysroot")
	repo = filepath.Join(sysroot, "ostree", "repo")
	os.MkdirAll(sysroot, 0o755)
	ostreeCmd(t, "admin", "init-fs", sysroot)
	ostreeCmd(t, "admin", "os-init", "--sysroot="+sysroot, "debian")
	tree := filepath.Join(dir, "tree")
	testutil.WriteFile(t, tree, "usr/lib/os-release", "ID=debian\n")
	testutil.WriteFile(t, tree, "usr/lib/modules/6.1.0/vmlinuz", "kernel")
	testutil.WriteFile(t, tree, "usr/lib/modules/6.1.0/initramfs.img", "initramfs")
	os.MkdirAll(filepath.Join(tree, "usr/etc"), 0o755)
	c1 = ostreeCmd(t, "commit", "--repo="+repo, "--branch=test/ref", "--tree=dir="+tree, "--add-metadata-string=version=1.0")
	ostreeCmd(t, "admin", "deploy", "--sysroot="+sysroot, "--os=debian", "test/ref")
	return sysroot, repo, c1
}

// The upgrade source's commit, made with the driver's exact argv by the
// real ostree into a source repository whose parent is the sysroot's
// repository, mounted read-only meanwhile (as on a host with
// sysroot.readonly), has the version, the parent and the marker file, and
// the driver's log parser finds the history through the parent; ostree
// admin set-origin and upgrade take it into the sysroot; running the
// rollback script makes the previous deployment the default again.
func TestUpgradeSourceAndRollbackRealOstree(t *testing.T) {
	sysroot, repo, c1 := realSysroot(t)
	testutil.NeedRoot(t)
	marker := t.TempDir()
	testutil.WriteFile(t, marker, "usr/share/atomic-selftest/upgrade-marker", "version=1.0.selftest.1\n")
	// As on a host, the source repository's parent directory does not
	// exist yet.
	src := filepath.Join(t.TempDir(), "atomic-selftest-outer", "repo")
	for _, argv := range sourceRepoArgv(src, repo) {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	if out, err := exec.Command("mount", "--bind", "-o", "ro", repo, repo).CombinedOutput(); err != nil {
		t.Fatalf("read-only bind mount of %s: %v\n%s", repo, err, out)
	}
	unmount := func() { exec.Command("umount", repo).Run() }
	t.Cleanup(unmount)
	if err := os.WriteFile(filepath.Join(repo, "probe"), nil, 0o644); err == nil {
		t.Fatalf("%s is writable under its read-only mount", repo)
	}
	argv := commitArgv(src, "atomic-selftest/upgrade", c1, c1, marker, "1.0.selftest.1")
	c2 := ostreeCmd(t, argv[1:]...)
	log := ParseOstreeLog([]byte(ostreeCmd(t, "log", "--repo="+src, "atomic-selftest/upgrade")))
	if len(log) != 2 || log[0].Checksum != c2 || log[0].Version != "1.0.selftest.1" || log[0].Parent != c1 || log[1].Version != "1.0" {
		t.Fatalf("log %+v", log)
	}
	if out := ostreeCmd(t, "cat", "--repo="+src, c2, "/usr/share/atomic-selftest/upgrade-marker"); !strings.Contains(out, "1.0.selftest.1") {
		t.Errorf("marker: %q", out)
	}
	if out := ostreeCmd(t, "cat", "--repo="+src, c2, "/usr/lib/os-release"); out != "ID=debian" {
		t.Errorf("the base tree is not in the new commit: %q", out)
	}
	unmount()

	ostreeCmd(t, "admin", "set-origin", "--sysroot="+sysroot, "--index=0", "--set=gpg-verify=false", UpgradeRemote, "file://"+src, "atomic-selftest/upgrade")
	ostreeCmd(t, "admin", "upgrade", "--sysroot="+sysroot, "--os=debian")
	st, err := ParseOstreeAdminStatus([]byte(ostreeCmd(t, "admin", "status", "--sysroot="+sysroot)))
	if err != nil || len(st.Deployments) != 2 || st.Default().Checksum != c2 {
		t.Fatalf("after the upgrade: %+v %v", st, err)
	}
	_, err = exec.LookPath("/usr/bin/python3")
	testutil.Need(t, "python3-gi", err == nil, "/usr/bin/python3 is missing")
	// With no booted deployment (not booted into this sysroot) the script
	// takes the sysroot as an argument; on a host it uses the default.
	rb := append(RollbackArgv(), sysroot)
	out, err := exec.Command(rb[0], rb[1:]...).CombinedOutput()
	if err != nil {
		testutil.Need(t, "python3-gi", !strings.Contains(string(out), "No module named 'gi'"), string(out))
		t.Fatalf("rollback script: %v\n%s", err, out)
	}
	st, err = ParseOstreeAdminStatus([]byte(ostreeCmd(t, "admin", "status", "--sysroot="+sysroot)))
	if err != nil || st.Default().Checksum != c1 || st.Deployments[1].Checksum != c2 {
		t.Fatalf("after rollback: %+v %v", st, err)
	}
	if strings.TrimSpace(string(out)) != c1 {
		t.Errorf("the script printed %q, want the new default %s", out, c1)
	}
}

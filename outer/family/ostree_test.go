package family

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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
	testutil.WriteFile(t, tree, "usr/share/doc/README", "a directory the marker's path passes\n")
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
	// The layer is made where the driver makes it on a host: a fresh
	// directory of mode 0700 (mktemp -d).
	marker := t.TempDir()
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
	u := upgradeCommit{Repo: src, Ref: "atomic-selftest/upgrade", Parent: c1, Base: c1, Version: "1.0.selftest.1",
		Marker: []byte("version=1.0.selftest.1\n")}
	c2, err := u.commit(localRun, localWrite, marker)
	if err != nil {
		t.Fatal(err)
	}
	assertDirsKept(t, src, c1, c2)
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

func localRun(argv ...string) ([]byte, error) {
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, ee.Stderr)
		}
		return nil, err
	}
	return out, nil
}

func localWrite(path string, data []byte) error { return os.WriteFile(path, data, 0o644) }

// assertDirsKept compares `ostree ls -d -X` of every directory the
// marker's path passes through, base against upgrade: mode, owner and
// xattrs must be the base's (issue 30: the upgrade's / was 0700).
func assertDirsKept(t *testing.T, repo, base, upgrade string) {
	t.Helper()
	for _, dir := range markerParents {
		b := ostreeCmd(t, "ls", "--repo="+repo, "-d", "-X", base, dir)
		u := ostreeCmd(t, "ls", "--repo="+repo, "-d", "-X", upgrade, dir)
		if b != u {
			t.Errorf("%s changed: base %q, upgrade %q", dir, b, u)
		}
	}
	if out := ostreeCmd(t, "ls", "--repo="+repo, "-d", upgrade, markerDir); !strings.HasPrefix(out, "d00755 0 0 ") {
		t.Errorf("%s: %q, want d00755 root", markerDir, out)
	}
}

// The layer the driver made before issue 30's fix (a 0700 directory laid
// over the base as it was) changes / in the commit: the comparison the
// fixed commit passes fails on it, so the test above can fail.
func TestUpgradeSourceOldLayerChangedRoot(t *testing.T) {
	_, repo, c1 := realSysroot(t)
	layer := t.TempDir()
	testutil.WriteFile(t, layer, "usr/share/atomic-selftest/upgrade-marker", "x\n")
	os.Chmod(layer, 0o700)
	c2 := ostreeCmd(t, "commit", "--repo="+repo, "--branch=old", "--tree=ref="+c1, "--tree=dir="+layer)
	b := ostreeCmd(t, "ls", "--repo="+repo, "-d", c1, "/")
	u := ostreeCmd(t, "ls", "--repo="+repo, "-d", c2, "/")
	if b == u || !strings.HasPrefix(u, "d00700") {
		t.Fatalf("the old layer kept / (%q -> %q): this test no longer shows the bug", b, u)
	}
}

// A base whose /usr carries an xattr the layer cannot reproduce: the
// commit is refused, naming the directory, before anything deploys it.
func TestUpgradeSourceRefusesChangedDirectory(t *testing.T) {
	testutil.NeedCommand(t, "ostree", "ostree")
	testutil.NeedRoot(t)
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	testutil.WriteFile(t, tree, "usr/share/doc/x", "x\n")
	os.Chmod(tree, 0o755)
	if err := syscall.Setxattr(filepath.Join(tree, "usr"), "user.atomic-selftest-test", []byte("1"), 0); err != nil {
		t.Skipf("no user xattrs on %s: %v", dir, err)
	}
	repo := filepath.Join(dir, "repo")
	ostreeCmd(t, "init", "--repo="+repo, "--mode=bare-user")
	base := ostreeCmd(t, "commit", "--repo="+repo, "--branch=base", "--tree=dir="+tree)
	if out := ostreeCmd(t, "ls", "--repo="+repo, "-d", "-X", base, "/usr"); !strings.Contains(out, "atomic-selftest-test") {
		t.Fatalf("the base's /usr lost its xattr: %q", out)
	}
	u := upgradeCommit{Repo: repo, Ref: "up", Parent: base, Base: base, Version: "1.selftest.1", Marker: []byte("m\n")}
	_, err := u.commit(localRun, localWrite, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "would change /usr from mode 0755 owner 0:0 xattrs") {
		t.Fatalf("err = %v, want the changed /usr named", err)
	}
}

func TestParseDirMeta(t *testing.T) {
	for _, tc := range []struct {
		in, dir, want string
		bad           bool
	}{
		// ostree 2022.7's line for a plain directory.
		{in: "d00755 0 0      0 { @a(ayay) [] } /usr\n", dir: "/usr", want: "mode 0755 owner 0:0 xattrs { @a(ayay) [] }"},
		{in: "d02775 0 190      0 { [(b'security.selinux', [byte 0x73])] } /", dir: "/", want: "mode 2775 owner 0:190 xattrs { [(b'security.selinux', [byte 0x73])] }"},
		{in: "-00644 0 0      3 { @a(ayay) [] } /usr", dir: "/usr", bad: true},
		{in: "d0075x 0 0      0 { } /usr", dir: "/usr", bad: true},
		{in: "d00755 a 0      0 { } /usr", dir: "/usr", bad: true},
		{in: "error: No such file", dir: "/usr", bad: true},
	} {
		m, err := parseDirMeta([]byte(tc.in), tc.dir)
		if tc.bad != (err != nil) || (!tc.bad && m.String() != tc.want) {
			t.Errorf("parseDirMeta(%q) = %q, %v; want %q (bad %v)", tc.in, m, err, tc.want, tc.bad)
		}
	}
}

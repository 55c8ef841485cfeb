// Package ostreetest builds real OSTree sysroots for tests with the
// `ostree` command (Debian package ostree): init-fs, os-init, commits with
// version metadata, deploys, pins, rpm-ostree style layered origins, and a
// rollback by reordering the deployments with libostree through Python
// (ostree 2022.7's CLI has no rollback). It is a test helper, not a
// framework; every sysroot lives in t.TempDir() and is made removable
// again (ostree marks deployment roots immutable) in t.Cleanup.
package ostreetest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
)

// Sysroot is a physical sysroot made by ostree.
type Sysroot struct {
	T    testing.TB
	Dir  string
	Repo string
	tree string
}

// New makes a sysroot with the given stateroots (os-init each).
func New(t testing.TB, stateroots ...string) *Sysroot {
	t.Helper()
	testutil.NeedCommand(t, "ostree", "ostree")
	testutil.NeedCommand(t, "ostree", "chattr")
	base := t.TempDir()
	s := &Sysroot{T: t, Dir: filepath.Join(base, "sysroot"), tree: filepath.Join(base, "tree")}
	s.Repo = filepath.Join(s.Dir, "ostree", "repo")
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.unfreeze)
	s.Run("ostree", "admin", "init-fs", "--modern", s.Dir)
	for _, sr := range stateroots {
		s.Run("ostree", "admin", "os-init", "--sysroot="+s.Dir, sr)
	}
	return s
}

// unfreeze clears the immutable bit ostree sets on deployment roots so
// that t.TempDir's removal works.
func (s *Sysroot) unfreeze() {
	dirs, _ := filepath.Glob(filepath.Join(s.Dir, "ostree", "deploy", "*", "deploy", "*"))
	for _, d := range dirs {
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
			_ = exec.Command("chattr", "-i", d).Run()
		}
	}
}

// Run runs argv and fails the test on error; it returns standard output.
func (s *Sysroot) Run(argv ...string) string {
	s.T.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if err := cmd.Run(); err != nil {
		s.T.Fatalf("%s: %v\n%s%s", strings.Join(argv, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// Commit commits a small bootable tree (a kernel and initramfs under
// /usr/lib/modules/KVER, an os-release) to branch with version metadata
// and returns its checksum. kernel varies the kernel's content (and so
// the boot checksum); extra are more `ostree commit` arguments.
func (s *Sysroot) Commit(branch, version, kernel string, extra ...string) string {
	s.T.Helper()
	if err := os.RemoveAll(s.tree); err != nil {
		s.T.Fatal(err)
	}
	files := map[string]string{
		"usr/lib/modules/5.10.0/vmlinuz":       "kernel " + kernel + "\n",
		"usr/lib/modules/5.10.0/initramfs.img": "initramfs " + kernel + "\n",
		"usr/etc/os-release":                   "NAME=Test\nID=test\nPRETTY_NAME=\"Test OS\"\nVERSION_ID=1\n",
		"usr/lib/test-version":                 version + "\n",
		"usr/bin/.keep":                        "",
	}
	for rel, data := range files {
		testutil.WriteFile(s.T, s.tree, rel, data)
	}
	// The mount points and link a deployment needs to be booted (see
	// BootedRoot), as in a real OSTree-ready tree.
	for _, d := range []string{"sysroot", "boot", "run", "var", "proc"} {
		if err := os.MkdirAll(filepath.Join(s.tree, d), 0o755); err != nil {
			s.T.Fatal(err)
		}
	}
	if err := os.Symlink("sysroot/ostree", filepath.Join(s.tree, "ostree")); err != nil {
		s.T.Fatal(err)
	}
	args := []string{"ostree", "commit", "--repo=" + s.Repo, "--branch=" + branch,
		"--subject=version " + version, "--add-metadata-string=version=" + version}
	args = append(args, extra...)
	args = append(args, s.tree)
	return strings.TrimSpace(s.Run(args...))
}

// Deploy deploys ref (a branch or checksum) in stateroot.
func (s *Sysroot) Deploy(stateroot, ref string, extra ...string) {
	s.T.Helper()
	// --retain: without a booted deployment ostree would keep only the
	// new and the previous default.
	args := append([]string{"ostree", "admin", "deploy", "--retain", "--sysroot=" + s.Dir, "--os=" + stateroot}, extra...)
	s.Run(append(args, ref)...)
}

// Pin pins deployment index i.
func (s *Sysroot) Pin(i int) {
	s.T.Helper()
	s.Run("ostree", "admin", "pin", "--sysroot="+s.Dir, fmt.Sprint(i))
}

// Rollback moves the second deployment in boot order to the front, which
// is what `rpm-ostree rollback` does, using libostree's
// write_deployments through GObject introspection. Debian's Python with
// python3-gi is /usr/bin/python3.
func (s *Sysroot) Rollback() {
	s.T.Helper()
	py := "/usr/bin/python3"
	_, err := os.Stat(py)
	testutil.Need(s.T, "python3-gi", err == nil, py+" is missing")
	probe := exec.Command(py, "-c", "import gi; gi.require_version('OSTree', '1.0'); from gi.repository import OSTree")
	testutil.Need(s.T, "python3-gi", probe.Run() == nil, "gi.repository.OSTree does not import (gir1.2-ostree-1.0, python3-gi)")
	script := `
import sys, gi
gi.require_version('OSTree', '1.0')
from gi.repository import OSTree, Gio
sysroot = OSTree.Sysroot.new(Gio.File.new_for_path(sys.argv[1]))
sysroot.load(None)
deps = sysroot.get_deployments()
if len(deps) < 2:
    sys.exit("need two deployments to roll back")
deps[0], deps[1] = deps[1], deps[0]
sysroot.write_deployments(deps, None)
`
	s.Run(py, "-c", script, s.Dir)
}

// DeploymentDir returns the directory of deployment checksum.serial.
func (s *Sysroot) DeploymentDir(stateroot, checksum string, serial int) string {
	return filepath.Join(s.Dir, "ostree", "deploy", stateroot, "deploy", fmt.Sprintf("%s.%d", checksum, serial))
}

// WriteOrigin replaces a deployment's origin file.
func (s *Sysroot) WriteOrigin(stateroot, checksum string, serial int, text string) {
	s.T.Helper()
	if err := os.WriteFile(s.DeploymentDir(stateroot, checksum, serial)+".origin", []byte(text), 0o644); err != nil {
		s.T.Fatal(err)
	}
}

// StatusEntry is one deployment as `ostree admin status` prints it.
type StatusEntry struct {
	OSName, Checksum string
	Serial           int
	Marker           string // "*" for booted
	State            string // pending, rollback, staged or ""
	Version          string
	Refspec          string
	Pinned           bool
}

// Status parses `ostree admin status --sysroot`.
func (s *Sysroot) Status() []StatusEntry {
	s.T.Helper()
	out := s.Run("ostree", "admin", "status", "--sysroot="+s.Dir)
	var l []StatusEntry
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if len(line) > 2 && line[2] != ' ' {
			f := strings.Fields(line[2:])
			e := StatusEntry{Marker: strings.TrimSpace(line[:2]), OSName: f[0]}
			csum, serial, _ := strings.Cut(f[1], ".")
			e.Checksum = csum
			fmt.Sscan(serial, &e.Serial)
			if len(f) > 2 {
				e.State = strings.Trim(f[2], "()")
			}
			l = append(l, e)
			continue
		}
		if len(l) == 0 {
			continue
		}
		cur := &l[len(l)-1]
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "Version: "):
			cur.Version = strings.TrimPrefix(t, "Version: ")
		case strings.HasPrefix(t, "origin refspec: "):
			cur.Refspec = strings.TrimPrefix(t, "origin refspec: ")
		case t == "Pinned: yes":
			cur.Pinned = true
		}
	}
	return l
}

// Show returns `ostree show --print-metadata-key=KEY` for a commit, in
// GVariant text format (e.g. '28.1').
func (s *Sysroot) Show(checksum, key string) string {
	s.T.Helper()
	return strings.TrimSpace(s.Run("ostree", "show", "--repo="+s.Repo, "--print-metadata-key="+key, checksum))
}

// needGI skips (or fails where required) without Debian's Python and
// libostree's introspection data.
func needGI(t testing.TB) string {
	t.Helper()
	py := "/usr/bin/python3"
	probe := exec.Command(py, "-c", "import gi; gi.require_version('OSTree', '1.0'); from gi.repository import OSTree, GLib")
	testutil.Need(t, "python3-gi", probe.Run() == nil, "/usr/bin/python3 cannot import gi.repository.OSTree (gir1.2-ostree-1.0, python3-gi)")
	return py
}

// GVariant serializes a value with GLib itself: expr is a Python
// expression building a GLib.Variant, e.g.
// GLib.Variant('a{sv}', {'k': GLib.Variant('b', True)}). It returns the
// bytes g_variant_get_data would, which is what ostree writes to /run.
func GVariant(t testing.TB, expr string) []byte {
	t.Helper()
	py := needGI(t)
	script := "import sys\nfrom gi.repository import GLib\nv = " + expr + "\nsys.stdout.buffer.write(v.get_data_as_bytes().get_data())\n"
	cmd := exec.Command(py, "-c", script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("serializing %s: %v\n%s", expr, err, errb.String())
	}
	return out.Bytes()
}

// DeployTree creates a deployment of rev in stateroot without adding it
// to the bootloader (libostree's deploy_tree), the state a staged
// deployment is in before ostree-finalize-staged.service writes its entry.
// It returns the deployment's checksum.serial.
func (s *Sysroot) DeployTree(stateroot, rev string) string {
	s.T.Helper()
	py := needGI(s.T)
	script := `
import sys, gi
gi.require_version('OSTree', '1.0')
from gi.repository import OSTree, Gio
sysroot = OSTree.Sysroot.new(Gio.File.new_for_path(sys.argv[1]))
sysroot.load(None)
origin = sysroot.origin_new_from_refspec(sys.argv[3])
ok, dep = sysroot.deploy_tree(sys.argv[2], sys.argv[3], origin, None, None, None)
print("%s.%d" % (dep.get_csum(), dep.get_deployserial()))
`
	return strings.TrimSpace(s.Run(py, "-c", script, s.Dir, stateroot, rev))
}

// BootedRoot makes deployment checksum.serial of stateroot look booted, the
// way ostree-prepare-root sets up a booted host, and returns the directory
// to use as the host's root: the deployment directory, with the physical
// sysroot bind-mounted on its /sysroot (read-only when sysrootRO), the
// sysroot's /boot on /boot, the stateroot's /var on /var, /usr bind-mounted
// read-only, a tmpfs on /run holding an empty /run/ostree-booted and one on
// /proc holding an empty cmdline. Its
// /ostree is the tree's link to sysroot/ostree. Needs root; everything is
// unmounted in t.Cleanup.
func (s *Sysroot) BootedRoot(stateroot, checksum string, serial int, sysrootRO bool) string {
	s.T.Helper()
	testutil.NeedRoot(s.T)
	dep := s.DeploymentDir(stateroot, checksum, serial)
	var mounted []string
	s.T.Cleanup(func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			_ = syscall.Unmount(mounted[i], syscall.MNT_DETACH)
		}
	})
	mount := func(src, target, fstype string, flags uintptr, data string) {
		s.T.Helper()
		if err := syscall.Mount(src, target, fstype, flags, data); err != nil {
			s.T.Fatalf("mount %s on %s: %v", src, target, err)
		}
		if flags&syscall.MS_REMOUNT == 0 {
			mounted = append(mounted, target)
		}
	}
	mount(s.Dir, filepath.Join(dep, "sysroot"), "", syscall.MS_BIND, "")
	if sysrootRO {
		mount("", filepath.Join(dep, "sysroot"), "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, "")
	}
	mount(filepath.Join(s.Dir, "boot"), filepath.Join(dep, "boot"), "", syscall.MS_BIND, "")
	mount(filepath.Join(s.Dir, "ostree", "deploy", stateroot, "var"), filepath.Join(dep, "var"), "", syscall.MS_BIND, "")
	mount(filepath.Join(dep, "usr"), filepath.Join(dep, "usr"), "", syscall.MS_BIND, "")
	mount("", filepath.Join(dep, "usr"), "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, "")
	mount("tmpfs", filepath.Join(dep, "run"), "tmpfs", 0, "size=1m,mode=0755")
	// A stand-in /proc holding only cmdline (empty until a test writes
	// the ostree= argument it wants the kernel to have had).
	mount("tmpfs", filepath.Join(dep, "proc"), "tmpfs", 0, "size=1m,mode=0755")
	if err := os.WriteFile(filepath.Join(dep, "proc", "cmdline"), nil, 0o644); err != nil {
		s.T.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dep, "run", "ostree-booted"), nil, 0o644); err != nil {
		s.T.Fatal(err)
	}
	return dep
}

// LiveHost returns the context of a run, with the default configuration
// and no history, on a host rooted at root that is treated as the running
// system (not --sysroot), as on a booted host.
func LiveHost(root string) *selftest.RunContext {
	h := selftest.NewHost(root)
	h.Offline = false
	return selftest.NewRunContext(h, nil)
}

// Branch is the ref the fixtures commit to.
const Branch = "fedora-atomic/28/x86_64/atomic-host"

// TwoDeployments makes a sysroot with stateroot fedora-atomic where 28.1
// and then 28.2 (another kernel) were deployed from Branch; it returns the
// sysroot and the checksums, newest first.
func TwoDeployments(t testing.TB) (*Sysroot, string, string) {
	t.Helper()
	sr := New(t, "fedora-atomic")
	c1 := sr.Commit(Branch, "28.1", "a")
	sr.Deploy("fedora-atomic", Branch)
	c2 := sr.Commit(Branch, "28.2", "b")
	sr.Deploy("fedora-atomic", Branch)
	return sr, c2, c1
}

// UseSyslinux makes ostree maintain a syslinux.cfg, as on an extlinux
// booted host: /boot/syslinux/syslinux.cfg links to ../loader/syslinux.cfg
// and the current loader directory has one. Call it before the first
// deploy.
func (s *Sysroot) UseSyslinux() {
	s.T.Helper()
	boot := filepath.Join(s.Dir, "boot")
	for _, step := range []func() error{
		func() error { return os.MkdirAll(filepath.Join(boot, "loader.0"), 0o755) },
		func() error { return os.MkdirAll(filepath.Join(boot, "syslinux"), 0o755) },
		func() error {
			return os.WriteFile(filepath.Join(boot, "loader.0", "syslinux.cfg"), []byte("PROMPT 0\nTIMEOUT 10\n"), 0o644)
		},
		func() error { return os.Symlink("loader.0", filepath.Join(boot, "loader")) },
		func() error {
			return os.Symlink("../loader/syslinux.cfg", filepath.Join(boot, "syslinux", "syslinux.cfg"))
		},
	} {
		if err := step(); err != nil {
			s.T.Fatal(err)
		}
	}
}

// SetBootTime writes the btime line of a BootedRoot's stand-in
// /proc/stat: when the boot running it started.
func SetBootTime(t testing.TB, root string, at time.Time) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, "proc", "stat"), []byte(fmt.Sprintf("cpu  1 2 3 4\nbtime %d\nprocesses 1\n", at.Unix())), 0o644); err != nil {
		t.Fatal(err)
	}
}

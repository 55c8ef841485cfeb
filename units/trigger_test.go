package units

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
)

// pathWatch is what a systemd path unit does for one PathChanged= or
// PathExists= line, after systemd's src/core/path.c (path_spec_watch,
// path_spec_fd_event, path_dispatch_io, path_spec_check_good):
//   - every existing component of the path gets an inotify watch, with
//     and without IN_DONT_FOLLOW (a symlink's own inode and its target);
//     a parent whose child exists keeps only IN_MOVE_SELF, the first
//     missing component's parent watches for IN_CREATE|IN_MOVED_TO;
//   - PathChanged= triggers only on an event of the last component's
//     followed watch (the "primary" one), PathExists= when the path
//     exists after an event;
//   - any other event re-arms all watches from scratch and triggers
//     nothing.
//
// A unit test cannot start a systemd instance here (systemd is not PID 1
// in this sandbox); this reproduces the kernel side exactly (the same
// inotify calls on the same files) so the real ostree command shows which
// lines of the shipped path unit fire. The VM cycle (outer/qemu,
// TestCycleTestbed) proves the unit itself on systemd.
type pathWatch struct {
	path    string // as in the unit
	real    string // where it is in the test's sysroot
	base    string // the directory in the test that stands for "/"
	exists  bool   // PathExists= rather than PathChanged=
	fd      int
	primary int32
}

const (
	inParent  = syscall.IN_MOVE_SELF | syscall.IN_DELETE_SELF | syscall.IN_CREATE | syscall.IN_MOVED_TO
	inChanged = syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ATTRIB | syscall.IN_CLOSE_WRITE |
		syscall.IN_CREATE | syscall.IN_DELETE | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO
	inExists = syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF | syscall.IN_ATTRIB
)

// arm is path_spec_watch: a fresh inotify fd and watches on every
// existing component.
func (w *pathWatch) arm(t *testing.T) {
	t.Helper()
	w.close()
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	w.fd, w.primary = fd, -1
	// The components of the real path below the test's root stand for
	// the unit's; the test directory's own parents are not watched.
	rel, err := filepath.Rel(w.base, w.real)
	if err != nil {
		t.Fatal(err)
	}
	comps := strings.Split(rel, "/")
	prev := ""
	for i := range comps {
		p := filepath.Join(w.base, strings.Join(comps[:i+1], "/"))
		last := i == len(comps)-1
		flags := uint32(inParent)
		if last {
			flags = inChanged
			if w.exists {
				flags = inExists
			}
		}
		var wd int
		for _, f := range []uint32{flags | syscall.IN_DONT_FOLLOW, flags} {
			if wd, err = syscall.InotifyAddWatch(fd, p, f); err != nil {
				break
			}
		}
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EACCES) {
			return // an incomplete watch, as systemd accepts it
		}
		if err != nil {
			t.Fatalf("inotify_add_watch %s: %v", p, err)
		}
		if prev != "" {
			_, _ = syscall.InotifyAddWatch(fd, prev, syscall.IN_MOVE_SELF)
		}
		prev = p
		if last {
			w.primary = int32(wd)
		}
	}
}

func (w *pathWatch) close() {
	if w.fd > 0 {
		_ = syscall.Close(w.fd)
	}
	w.fd = 0
}

// dispatch is path_dispatch_io: it reads what is queued and says whether
// the unit would start its service; otherwise it re-arms, as systemd does
// on any event that does not trigger.
func (w *pathWatch) dispatch(t *testing.T) bool {
	t.Helper()
	var buf [64 * 1024]byte
	n, err := syscall.Read(w.fd, buf[:])
	if err != nil || n <= 0 {
		return false
	}
	for off := 0; off+syscall.SizeofInotifyEvent <= n; {
		ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
		if !w.exists && ev.Wd == w.primary {
			return true
		}
		off += syscall.SizeofInotifyEvent + int(ev.Len)
	}
	if w.exists {
		if _, err := os.Lstat(w.real); err == nil {
			return true
		}
	}
	w.arm(t)
	return false
}

// pathLines returns the PathChanged= and PathExists= lines of the
// shipped path unit.
func pathLines(t *testing.T) []*pathWatch {
	b, err := os.ReadFile("atomic-selftest-deployment.path")
	if err != nil {
		t.Fatal(err)
	}
	var out []*pathWatch
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && (k == "PathChanged" || k == "PathExists") {
			out = append(out, &pathWatch{path: v, exists: k == "PathExists"})
		}
	}
	if len(out) == 0 {
		t.Fatal("the path unit has no PathChanged= or PathExists= line")
	}
	return out
}

// fires runs argv while watching w the way systemd would (reacting to
// each event within a millisecond) and reports whether it triggered.
func fires(t *testing.T, w *pathWatch, argv ...string) bool {
	t.Helper()
	w.arm(t)
	defer w.close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	fired := false
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
			}
			// What is still queued counts too.
			return fired || w.dispatch(t)
		default:
		}
		if w.dispatch(t) {
			fired = true
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPathUnitFiresOnEveryDeploymentWrite runs the ways a deployment
// changes on a real sysroot made by the ostree command and checks that
// the shipped path unit's watch on the sysroot's ostree/deploy fires for
// each: a new deployment (upgrade), a rollback that only reorders
// deployments with the same kernel, a deploy of another kernel (a new
// boot loader version) and an undeploy. The old line, PathChanged=
// /boot/loader, is shown not to fire for the rollback: ostree does not
// touch /boot when the boot configurations stay equal, it only swaps the
// /ostree/boot.N bootlinks.
func TestPathUnitFiresOnEveryDeploymentWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a sysroot with ostree and deploys four times")
	}
	sr := ostreetest.New(t, "debian")
	branch := "debian/12/x86_64/testbed"
	sr.Commit(branch, "12.1", "a")
	sr.Deploy("debian", branch)
	sr.Commit(branch, "12.2", "a") // the same kernel: equal boot configs
	var deployLine *pathWatch
	for _, w := range pathLines(t) {
		w.base, w.real = sr.Dir, filepath.Join(sr.Dir, strings.TrimPrefix(w.path, "/sysroot"))
		if w.path == "/sysroot/ostree/deploy" {
			deployLine = w
		}
	}
	if deployLine == nil {
		t.Fatal("the path unit does not watch /sysroot/ostree/deploy")
	}
	rollback := []string{"/usr/bin/python3", "-c", `
import sys, gi
gi.require_version('OSTree', '1.0')
from gi.repository import OSTree, Gio
s = OSTree.Sysroot.new(Gio.File.new_for_path(sys.argv[1]))
s.load(None)
d = s.get_deployments()
s.write_deployments([d[1], d[0]] + d[2:], None)
`, sr.Dir}
	if err := exec.Command(rollback[0], "-c", "import gi; gi.require_version('OSTree', '1.0')").Run(); err != nil {
		t.Skipf("no libostree for Python (gir1.2-ostree-1.0, python3-gi): %v", err)
	}
	deploy := []string{"ostree", "admin", "deploy", "--retain", "--sysroot=" + sr.Dir, "--os=debian", branch}
	loader := &pathWatch{path: "/boot/loader", base: sr.Dir, real: filepath.Join(sr.Dir, "boot/loader")}

	if !fires(t, deployLine, deploy...) {
		t.Error("ostree admin deploy (an upgrade) did not fire PathChanged=/sysroot/ostree/deploy")
	}
	if !fires(t, deployLine, rollback...) {
		t.Error("a rollback (write_deployments reordering) did not fire PathChanged=/sysroot/ostree/deploy")
	}
	// The old line, PathChanged=/boot/loader, usually stays silent for
	// such a rollback (ostree leaves /boot alone when the boot
	// configurations are equal), but it fired once on a loaded 2-core
	// machine, so it is reported, not asserted: the unit does not rely
	// on it either way.
	t.Logf("a rollback between deployments with one kernel fired PathChanged=/boot/loader here: %v", fires(t, loader, rollback...))
	sr.Commit(branch, "12.3", "b") // another kernel: a new boot loader version
	if !fires(t, deployLine, deploy...) {
		t.Error("ostree admin deploy of another kernel did not fire PathChanged=/sysroot/ostree/deploy")
	}
	// The swap of /boot/loader itself: whether a watch on it fires
	// depends on whether the watcher re-arms onto the new loader.N before
	// ostree removes the old one; on the VM's systemd 252 it never did.
	sr.Commit(branch, "12.4", "c")
	t.Logf("a deploy that swaps /boot/loader fired PathChanged=/boot/loader here: %v", fires(t, loader, deploy...))
	if !fires(t, deployLine, "ostree", "admin", "undeploy", "--sysroot="+sr.Dir, "2") {
		t.Error("ostree admin undeploy did not fire PathChanged=/sysroot/ostree/deploy")
	}
	// The rerun marker (in the service's preserved RuntimeDirectory=):
	// the watch stops at its directory and fires once it appears.
	for _, w := range pathLines(t) {
		if !w.exists {
			continue
		}
		w.base = t.TempDir()
		w.real = filepath.Join(w.base, w.path)
		if err := os.MkdirAll(filepath.Dir(w.real), 0o755); err != nil {
			t.Fatal(err)
		}
		if !fires(t, w, "touch", w.real) {
			t.Errorf("PathExists=%s did not fire when the file appeared", w.path)
		}
	}
}

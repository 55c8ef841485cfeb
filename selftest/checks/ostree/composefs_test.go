package ostree_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// composefsRoot sets a deployment up as ostree-prepare-root does with
// composefs enabled (src/switchroot/ostree-prepare-root.c in
// ostreedev/ostree): the root is a read-only overlay whose source is
// "composefs" (a real overlay here, over the deployment directory, in
// place of the composefs image's erofs lower layer), /etc is the
// deployment's /etc bind-mounted, /var the stateroot's, /sysroot the
// physical root, and /run/ostree-booted holds the a{sv} of
// src/libotcore/otcore.h with composefs=true and the deployment
// directory's device and inode as backing-root-device-inode.
func composefsRoot(t *testing.T, sr *ostreetest.Sysroot, checksum string, booted string, overlay bool) string {
	t.Helper()
	dep := sr.BootedRoot("fedora-atomic", checksum, 0, false)
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// Two lower layers: a read-only overlay needs two on older kernels.
	empty := t.TempDir()
	var err error
	if overlay {
		err = syscall.Mount("composefs", root, "overlay", syscall.MS_RDONLY, "lowerdir="+dep+":"+empty)
	} else {
		// Without overlay: the deployment directory bound on the root.
		err = syscall.Mount(dep, root, "", syscall.MS_BIND, "")
	}
	if err != nil {
		t.Fatalf("mounting the root: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(root, syscall.MNT_DETACH) })
	for _, d := range []string{"sysroot", "boot", "var", "etc", "run", "proc"} {
		if err := syscall.Mount(filepath.Join(dep, d), filepath.Join(root, d), "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			t.Fatalf("bind-mounting %s: %v", d, err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dep, &st); err != nil {
		t.Fatal(err)
	}
	data := ostreetest.GVariant(t, fmt.Sprintf(`GLib.Variant('a{sv}', {%s
		'backing-root-device-inode': GLib.Variant('(tt)', (%d, %d))})`, booted, st.Dev, st.Ino))
	if err := os.WriteFile(filepath.Join(root, "run", "ostree-booted"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestBootedComposefs(t *testing.T) {
	sr, _, c1 := ostreetest.TwoDeployments(t)
	root := composefsRoot(t, sr, c1, `'composefs': GLib.Variant('b', True), 'composefs.verity': GLib.Variant('b', True),`, true)
	h := ostreetest.LiveHost(root)
	r, rec := checktest.WithDepends(t, h, "ostree.booted")
	checktest.Expect(t, r, record.StatusPass, "booted fedora-atomic "+c1[:10])
	if rec.Deployment == nil || rec.Deployment.Checksum != c1 {
		t.Errorf("record deployment %+v, want %s", rec.Deployment, c1)
	}
	want := map[string]string{
		"root (/run/ostree-booted)": "composefs, fs-verity required",
		"/ mount":                   "overlay, source composefs, read-only",
	}
	for _, e := range r.Evidence {
		if w, ok := want[e.Name]; ok {
			if e.Seen != w {
				t.Errorf("evidence %s: %q, want %q", e.Name, e.Seen, w)
			}
			delete(want, e.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("no evidence %v in %+v", want, r.Evidence)
	}
}

// A root that is a mount, but not composefs's overlay, fails.
func TestBootedComposefsNotOverlay(t *testing.T) {
	sr, _, c1 := ostreetest.TwoDeployments(t)
	root := composefsRoot(t, sr, c1, `'composefs': GLib.Variant('b', True),`, false)
	r, _ := checktest.WithDepends(t, ostreetest.LiveHost(root), "ostree.booted")
	checktest.Expect(t, r, record.StatusFail, "/run/ostree-booted says composefs but / is ", ", read-write, not a composefs overlay")
}

// /run/ostree-booted says composefs, but the root is the plain
// deployment directory: ostree-prepare-root's record and the mounts
// disagree.
func TestBootedComposefsNotMounted(t *testing.T) {
	sr, _, c1 := ostreetest.TwoDeployments(t)
	root := sr.BootedRoot("fedora-atomic", c1, 0, false)
	var st syscall.Stat_t
	if err := syscall.Stat(root, &st); err != nil {
		t.Fatal(err)
	}
	data := ostreetest.GVariant(t, fmt.Sprintf(`GLib.Variant('a{sv}', {'composefs': GLib.Variant('b', True),
		'backing-root-device-inode': GLib.Variant('(tt)', (%d, %d))})`, st.Dev, st.Ino))
	if err := os.WriteFile(filepath.Join(root, "run", "ostree-booted"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := checktest.WithDepends(t, ostreetest.LiveHost(root), "ostree.booted")
	checktest.Expect(t, r, record.StatusFail, "/run/ostree-booted says composefs but / is not a mount point")
}

package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// imageTree makes a small tree as an image has it: every top-level
// directory root's and 0755, /tmp 1777.
func imageTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/lib", "usr/sbin", "usr/share", "etc", "var", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"", "usr", "usr/bin", "usr/lib", "usr/sbin", "usr/share", "etc", "var"} {
		os.Chmod(filepath.Join(dir, d), 0o755)
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o777|os.ModeSticky)
	return dir
}

// Each row breaks one thing of a good image tree and names the exact
// finding (run as with --sysroot: the check is offline).
func TestTreeImage(t *testing.T) {
	testutil.NeedRoot(t) // the trees are root's, as on a host
	for _, tc := range []struct {
		name   string
		break_ func(dir string)
		want   string
	}{
		{"good", func(string) {}, ""},
		// Issue 30: the driver's upgrade source made / 0700.
		{"root 0700", func(d string) { os.Chmod(d, 0o700) }, "/: mode 0700: others cannot read and search it"},
		{"usr/bin writable by all", func(d string) { os.Chmod(filepath.Join(d, "usr/bin"), 0o777) }, "/usr/bin: mode 0777: writable by group or others"},
		{"etc owned by a user", func(d string) { os.Chown(filepath.Join(d, "etc"), 1000, 1000) }, "/etc: owner 1000:1000, want 0:0"},
		{"tmp not sticky", func(d string) { os.Chmod(filepath.Join(d, "tmp"), 0o777) }, "/tmp: mode 0777, want 1777"},
		{"no usr/lib", func(d string) { os.Remove(filepath.Join(d, "usr/lib")) }, "/usr/lib: "},
		{"usr/lib a file", func(d string) {
			os.Remove(filepath.Join(d, "usr/lib"))
			os.WriteFile(filepath.Join(d, "usr/lib"), nil, 0o644)
		}, "/usr/lib is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := imageTree(t)
			tc.break_(dir)
			r := runOne(t, "host.tree", selftest.NewRunContext(selftest.NewHost(dir), nil))
			if tc.want == "" {
				checktest.Expect(t, r, record.StatusPass, "the top-level directories of 1 tree(s) are root's")
				return
			}
			checktest.Expect(t, r, record.StatusFail, "this tree: "+tc.want)
		})
	}
}

// /etc of a deployment not merged yet is /usr/etc; a tree with neither
// is named.
func TestTreeUsrEtc(t *testing.T) {
	testutil.NeedRoot(t)
	dir := imageTree(t)
	os.Remove(filepath.Join(dir, "etc"))
	r := runOne(t, "host.tree", selftest.NewRunContext(selftest.NewHost(dir), nil))
	checktest.Expect(t, r, record.StatusFail, "this tree: /usr/etc: ")
	os.Mkdir(filepath.Join(dir, "usr/etc"), 0o755)
	os.Chmod(filepath.Join(dir, "usr/etc"), 0o755)
	r = runOne(t, "host.tree", selftest.NewRunContext(selftest.NewHost(dir), nil))
	checktest.Expect(t, r, record.StatusPass)
}

// On a real sysroot made by ostree: the booted 28.2 is sound, and an
// upgrade committed the way the driver did before issue 30's fix (a 0700
// directory laid over the booted tree) is caught as the pending
// deployment, before anyone reboots into it; a physical sysroot under
// --sysroot has every deployment judged.
func TestTreePendingDeployment(t *testing.T) {
	sr, c2, _ := ostreetest.TwoDeployments(t)
	root := sr.BootedRoot("fedora-atomic", c2, 0, false)
	ostreetest.SetBootTime(t, root, time.Now().Add(-time.Second))
	r := runOne(t, "host.tree", ostreetest.LiveHost(root))
	checktest.Expect(t, r, record.StatusPass, "of 1 tree(s)")

	layer := t.TempDir()
	testutil.WriteFile(t, layer, "usr/share/atomic-selftest/upgrade-marker", "x\n")
	os.Chmod(layer, 0o700)
	c3 := strings.TrimSpace(sr.Run("ostree", "commit", "--repo="+sr.Repo, "--branch="+ostreetest.Branch,
		"--tree=ref="+c2, "--tree=dir="+layer, "--add-metadata-string=version=28.3"))
	sr.Deploy("fedora-atomic", ostreetest.Branch)
	r = runOne(t, "host.tree", ostreetest.LiveHost(root))
	checktest.Expect(t, r, record.StatusFail, "pending deployment fedora-atomic "+record.Short(c3)+".0 (28.3): /: mode 0700: others cannot read and search it")
	if strings.Contains(r.Message, "this tree:") {
		t.Errorf("the booted tree was blamed: %s", r.Message)
	}

	// The physical sysroot, offline: all three deployments judged, the
	// bad one named.
	r = runOne(t, "host.tree", selftest.NewRunContext(selftest.NewHost(sr.Dir), nil))
	checktest.Expect(t, r, record.StatusFail, "deployment fedora-atomic "+record.Short(c3)+".0 (28.3): /: mode 0700")
	if n := strings.Count(r.Message, "deployment "); n != 1 {
		t.Errorf("%d deployments blamed: %s", n, r.Message)
	}
}

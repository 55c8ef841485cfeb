package ostree_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
)

const branch = "fedora-atomic/28/x86_64/atomic-host"

func load(t *testing.T, o ostree.Options) *ostree.Sysroot {
	t.Helper()
	s, err := ostree.Load(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertMatchesOstree compares the reader's view with `ostree admin status
// --sysroot` deployment by deployment, and each commit with `ostree show`.
func assertMatchesOstree(t *testing.T, sr *ostreetest.Sysroot, s *ostree.Sysroot) {
	t.Helper()
	want := sr.Status()
	if len(s.Deployments) != len(want) {
		t.Fatalf("reader sees %d deployments, ostree admin status %d: %+v", len(s.Deployments), len(want), want)
	}
	for i, w := range want {
		d := s.Deployments[i]
		refspec := ""
		if d.Origin != nil {
			refspec = d.Origin.Refspec
		}
		got := ostreetest.StatusEntry{OSName: d.OSName, Checksum: d.Checksum, Serial: d.Serial,
			Version: d.Version(), Refspec: refspec, Pinned: d.Pinned()}
		w.Marker, w.State = "", ""
		if got != w {
			t.Errorf("deployment %d:\nreader %+v\nostree %+v", i, got, w)
		}
		if len(d.Problems) > 0 {
			t.Errorf("deployment %d problems: %v", i, d.Problems)
		}
		if v := sr.Show(d.Checksum, "version"); v != fmt.Sprintf("'%s'", d.Version()) {
			t.Errorf("deployment %d: ostree show version %s, reader %q", i, v, d.Version())
		}
	}
	target, err := os.Readlink(filepath.Join(sr.Dir, "boot", "loader"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("loader.%d", s.BootVersion); target != want {
		t.Errorf("boot/loader -> %s, reader says bootversion %d", target, s.BootVersion)
	}
	if len(s.Problems)+len(s.BadEntries)+len(s.Unreferenced) > 0 {
		t.Errorf("problems: %v bad entries: %v unreferenced: %v", s.Problems, s.BadEntries, s.Unreferenced)
	}
}

func TestSysrootMatchesOstreeAdminStatus(t *testing.T) {
	sr := ostreetest.New(t, "fedora-atomic")
	c1 := sr.Commit(branch, "28.1", "a")
	sr.Deploy("fedora-atomic", branch)
	s := load(t, ostree.Options{Root: sr.Dir})
	assertMatchesOstree(t, sr, s)
	if s.Deployments[0].Checksum != c1 {
		t.Fatalf("first deployment %s, committed %s", s.Deployments[0].Checksum, c1)
	}
	versions := []int{s.BootVersion}

	// Two more commits, each deployed: three deployments, and the
	// loader.0/loader.1 swap on every deploy.
	c2 := sr.Commit(branch, "28.2", "a")
	sr.Deploy("fedora-atomic", branch)
	s = load(t, ostree.Options{Root: sr.Dir})
	assertMatchesOstree(t, sr, s)
	versions = append(versions, s.BootVersion)
	c3 := sr.Commit(branch, "28.3", "b")
	sr.Deploy("fedora-atomic", branch)
	s = load(t, ostree.Options{Root: sr.Dir})
	assertMatchesOstree(t, sr, s)
	versions = append(versions, s.BootVersion)
	if versions[0] == versions[1] || versions[1] == versions[2] {
		t.Errorf("bootversion did not swap on each deploy: %v", versions)
	}
	if got := []string{s.Deployments[0].Checksum, s.Deployments[1].Checksum, s.Deployments[2].Checksum}; got[0] != c3 || got[1] != c2 || got[2] != c1 {
		t.Errorf("order %v, want newest first", got)
	}
	// The new kernel got its own boot checksum.
	if s.Deployments[0].BootChecksum == s.Deployments[1].BootChecksum {
		t.Errorf("deployments with different kernels share bootcsum %s", s.Deployments[0].BootChecksum)
	}
	// Commit metadata straight from the object.
	c := s.Deployments[0].Commit
	if c.Parent != c2 {
		t.Errorf("parent %s, want %s", c.Parent, c2)
	}
	if c.Subject != "version 28.3" {
		t.Errorf("subject %q", c.Subject)
	}
	if d := time.Since(c.Timestamp); d < 0 || d > time.Hour {
		t.Errorf("timestamp %s is not about now (big-endian decoding?)", c.Timestamp)
	}
	if show := sr.Run("ostree", "show", "--repo="+sr.Repo, c3); !strings.Contains(show, "Date:  "+c.Timestamp.Format("2006-01-02 15:04:05")) {
		t.Errorf("ostree show says\n%s\nreader timestamp %s", show, c.Timestamp)
	}

	// Deploy again (same commit, serial 1), pin one, a second stateroot.
	sr.Deploy("fedora-atomic", branch)
	sr.Pin(2)
	sr.Run("ostree", "admin", "os-init", "--sysroot="+sr.Dir, "debian")
	sr.Commit("debian/12/x86_64", "12.1", "d")
	sr.Deploy("debian", "debian/12/x86_64")
	s = load(t, ostree.Options{Root: sr.Dir})
	assertMatchesOstree(t, sr, s)
	if len(s.Stateroots) != 2 {
		t.Errorf("stateroots %v", s.Stateroots)
	}
	if s.Deployments[0].OSName != "debian" {
		t.Errorf("the new stateroot's deployment is not first: %s", s.Deployments[0].OSName)
	}
	serials := map[int]bool{}
	for _, d := range s.Deployments {
		if d.Checksum == c3 {
			serials[d.Serial] = true
		}
	}
	if !serials[0] || !serials[1] {
		t.Errorf("redeploying %s did not give serials 0 and 1: %v", c3, serials)
	}

	// Rollback reorders the entries (libostree write_deployments).
	before := s.Deployments[1].Name()
	sr.Rollback()
	s = load(t, ostree.Options{Root: sr.Dir})
	assertMatchesOstree(t, sr, s)
	if s.Deployments[0].Name() != before {
		t.Errorf("after rollback first is %s, want %s", s.Deployments[0].Name(), before)
	}
}

// An origin edited as rpm-ostree writes it for layered packages, on a
// client-layer commit whose parent is the base.
func TestLayeredDeployment(t *testing.T) {
	sr := ostreetest.New(t, "fedora-atomic")
	base := sr.Commit(branch, "28.1", "a")
	layered := sr.Commit("rpmostree/base/0", "28.1", "a", "--parent="+base, "--add-metadata=rpmostree.clientlayer=true")
	sr.Deploy("fedora-atomic", layered)
	// Shape from coreos/rpm-ostree rust/src/origin.rs (treefile_to_origin:
	// baserefspec when packages are layered, ';'-terminated lists, local
	// packages as sha256:nevra), as of rpm-ostree 2021-2024.
	sr.WriteOrigin("fedora-atomic", layered, 0, `[origin]
baserefspec=`+branch+`

[packages]
requested=htop;strace;
requested-local=4ed748ba060fce4571e7ef19f3f5ed6209f67dbac8327af0d38ea70b96d2f723:foo-1.2-3.x86_64;

[overrides]
remove=docker;

[libostree-transient]
pinned=true
`)
	s := load(t, ostree.Options{Root: sr.Dir})
	d := s.Deployments[0]
	if !d.Layered() || d.BaseChecksum() != base || d.BaseCommit == nil || d.BaseCommit.Checksum != base {
		t.Errorf("layered %v base %s, want base %s", d.Layered(), d.BaseChecksum(), base)
	}
	if got := strings.Join(d.Origin.LayeredPackages(), ","); got != "htop,strace,foo-1.2-3.x86_64" {
		t.Errorf("layered packages %q", got)
	}
	if d.Refspec() != branch || d.Origin.Refspec != "" || !d.Pinned() || strings.Join(d.Origin.OverrideRemove, ",") != "docker" {
		t.Errorf("origin %+v", d.Origin)
	}
	if v := sr.Show(layered, "rpmostree.clientlayer"); v != "true" {
		t.Errorf("ostree show rpmostree.clientlayer = %s", v)
	}
}

func TestBootedByDeviceAndInode(t *testing.T) {
	sr := ostreetest.New(t, "fedora-atomic")
	sr.Commit(branch, "28.1", "a")
	sr.Deploy("fedora-atomic", branch)
	sr.Commit(branch, "28.2", "a")
	sr.Deploy("fedora-atomic", branch)
	offline := load(t, ostree.Options{Root: sr.Dir})
	second := offline.Deployments[1]

	// Not ostree-booted: nothing is booted even when / matches.
	stat := func() (ostree.DevIno, error) { return second.DevIno, nil }
	s := load(t, ostree.Options{Root: sr.Dir, Live: true, StatRoot: stat})
	if s.Booted != nil || s.OstreeBooted {
		t.Fatalf("booted %v without /run/ostree-booted", s.Booted.Name())
	}

	// An old-style empty /run/ostree-booted: / decides.
	run := filepath.Join(sr.Dir, "run")
	if err := os.MkdirAll(filepath.Join(run, "ostree"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "ostree-booted"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s = load(t, ostree.Options{Root: sr.Dir, Live: true, StatRoot: stat})
	if s.Booted == nil || s.Booted.Name() != second.Name() || !s.Booted.Booted {
		t.Fatalf("booted %+v, want %s", s.Booted, second.Name())
	}
	pending, rollback := s.QueryDeploymentsFor("fedora-atomic")
	if pending == nil || pending.Index != 0 || rollback != nil {
		t.Errorf("pending %v rollback %v", pending, rollback)
	}

	// Nothing matches: a clear problem, nothing booted.
	s = load(t, ostree.Options{Root: sr.Dir, Live: true, StatRoot: func() (ostree.DevIno, error) { return ostree.DevIno{Dev: 1, Ino: 2}, nil }})
	if s.Booted != nil || len(s.Problems) != 1 || !strings.Contains(s.Problems[0], "no deployment directory is the running root (dev 1 ino 2)") {
		t.Errorf("booted %v problems %q", s.Booted, s.Problems)
	}

	// A new-style a{sv} with backing-root-device-inode, serialized by GLib:
	// it wins over the stat of / (composefs hides the deployment there).
	first := offline.Deployments[0]
	data := ostreetest.GVariant(t, fmt.Sprintf("GLib.Variant('a{sv}', {'backing-root-device-inode': GLib.Variant('(tt)', (%d, %d)), 'composefs': GLib.Variant('b', True), 'sysroot-ro': GLib.Variant('b', True)})", first.DevIno.Dev, first.DevIno.Ino))
	if err := os.WriteFile(filepath.Join(run, "ostree-booted"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s = load(t, ostree.Options{Root: sr.Dir, Live: true, StatRoot: stat})
	if s.Booted == nil || s.Booted.Name() != first.Name() {
		t.Fatalf("booted %v, want %s from backing-root-device-inode; problems %v", s.Booted, first.Name(), s.Problems)
	}
	if ro, _ := s.BootedMetadata.Bool("sysroot-ro"); !ro {
		t.Errorf("metadata %v", s.BootedMetadata)
	}
	_, rollback = s.QueryDeploymentsFor("fedora-atomic")
	if rollback == nil || rollback.Name() != second.Name() {
		t.Errorf("rollback %v, want %s", rollback, second.Name())
	}

	// A real bind mount of the deployment: its device and inode are the
	// deployment's, so stat of the mount point finds it.
	if os.Geteuid() == 0 {
		mnt := t.TempDir()
		if err := syscall.Mount(second.Dir, mnt, "", syscall.MS_BIND, ""); err == nil {
			defer syscall.Unmount(mnt, syscall.MNT_DETACH)
			os.WriteFile(filepath.Join(run, "ostree-booted"), nil, 0o644)
			s = load(t, ostree.Options{Root: sr.Dir, Live: true, StatRoot: func() (ostree.DevIno, error) {
				var st syscall.Stat_t
				err := syscall.Stat(mnt, &st)
				return ostree.DevIno{Dev: uint64(st.Dev), Ino: st.Ino}, err
			}})
			if s.Booted == nil || s.Booted.Name() != second.Name() {
				t.Errorf("bind mount: booted %v, want %s", s.Booted, second.Name())
			}
		}
	}
}

func TestStagedDeployment(t *testing.T) {
	sr := ostreetest.New(t, "fedora-atomic")
	sr.Commit(branch, "28.1", "a")
	sr.Deploy("fedora-atomic", branch)
	c2 := sr.Commit(branch, "28.2", "a")
	name := sr.DeployTree("fedora-atomic", c2)
	offline := load(t, ostree.Options{Root: sr.Dir})
	if len(offline.Unreferenced) != 1 || offline.Unreferenced[0] != "fedora-atomic/"+name {
		t.Fatalf("unreferenced %v, want the deploy_tree one %s", offline.Unreferenced, name)
	}
	booted := offline.Deployments[0]
	run := filepath.Join(sr.Dir, "run", "ostree")
	os.MkdirAll(run, 0o755)
	os.WriteFile(filepath.Join(sr.Dir, "run", "ostree-booted"), nil, 0o644)
	data := ostreetest.GVariant(t, fmt.Sprintf(`GLib.Variant('a{sv}', {
		'target': GLib.Variant('a{sv}', {'name': GLib.Variant('s', '%s'), 'osname': GLib.Variant('s', 'fedora-atomic'), 'bootcsum': GLib.Variant('s', '%s')}),
		'kargs': GLib.Variant('as', ['root=/dev/vda1', 'quiet']),
		'locked': GLib.Variant('b', True)})`, name, booted.BootChecksum))
	if err := os.WriteFile(filepath.Join(run, "staged-deployment"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := load(t, ostree.Options{Root: sr.Dir, Live: true, StatRoot: func() (ostree.DevIno, error) { return booted.DevIno, nil }})
	if s.Staged == nil || s.Staged.Name() != name || s.Deployments[0] != s.Staged || !s.Staged.Staged || !s.Staged.FinalizationLocked {
		t.Fatalf("staged %+v", s.Staged)
	}
	if s.Staged.Version() != "28.2" || s.Staged.Refspec() != c2 {
		t.Errorf("staged version %q refspec %q", s.Staged.Version(), s.Staged.Refspec())
	}
	pending, rollback := s.QueryDeploymentsFor("fedora-atomic")
	if pending != s.Staged || rollback != nil || s.Booted.Index != 1 {
		t.Errorf("pending %v rollback %v booted index %d", pending, rollback, s.Booted.Index)
	}
	if len(s.Unreferenced) != 0 {
		t.Errorf("staged deployment counted as unreferenced: %v", s.Unreferenced)
	}
}

// Break things on purpose and assert the exact finding.
func TestDamagedSysroot(t *testing.T) {
	sr := ostreetest.New(t, "fedora-atomic")
	c1 := sr.Commit(branch, "28.1", "a")
	sr.Deploy("fedora-atomic", branch)
	sr.WriteOrigin("fedora-atomic", c1, 0, "refspec=x\n")
	entries, _ := filepath.Glob(filepath.Join(sr.Dir, "boot", "loader", "entries", "*.conf"))
	if len(entries) != 1 {
		t.Fatalf("entries %v", entries)
	}
	os.WriteFile(filepath.Join(filepath.Dir(entries[0]), "ostree-9-gone.conf"), []byte("title gone\nversion 9\noptions ostree=/ostree/boot.0/fedora-atomic/abc/0\nlinux /x\n"), 0o644)
	s := load(t, ostree.Options{Root: sr.Dir})
	if len(s.Deployments) != 1 {
		t.Fatalf("deployments %d", len(s.Deployments))
	}
	d := s.Deployments[0]
	if d.Origin != nil || len(d.Problems) != 1 || !strings.Contains(d.Problems[0], ".origin line 1: key \"refspec\" before the first [group]") {
		t.Errorf("origin problems %q", d.Problems)
	}
	if len(s.BadEntries) != 1 || !strings.Contains(s.BadEntries[0].Err, "ostree-9-gone.conf: ostree=/ostree/boot.0/fedora-atomic/abc/0: readlink") {
		t.Errorf("bad entries %+v", s.BadEntries)
	}
	// Garble the commit object.
	obj := filepath.Join(sr.Repo, "objects", c1[:2], c1[2:]+".commit")
	os.Chmod(obj, 0o644)
	if err := os.WriteFile(obj, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = load(t, ostree.Options{Root: sr.Dir})
	d = s.Deployments[0]
	if d.Commit != nil || len(d.Problems) != 2 || !strings.Contains(d.Problems[1], c1[2:]+".commit: (a{sv}aya(say)sstayay): member 0 spans") {
		t.Errorf("commit problems %q", d.Problems)
	}
	if _, err := ostree.Load(ostree.Options{Root: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "not an OSTree sysroot") {
		t.Errorf("empty dir: %v", err)
	}
}

package ostree_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
)

func want(t *testing.T, r selftest.Result, status selftest.Status, msg string) {
	t.Helper()
	if r.Status != status || !strings.Contains(r.Message, msg) {
		t.Errorf("%s: %s %q, want %s containing %q; evidence %+v", r.ID, r.Status, r.Message, status, msg, r.Evidence)
	}
}

// The rollback deployment (28.1) booted the way ostree-prepare-root sets
// a host up: passes, and records the booted deployment.
func TestBootedOnABootedRoot(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	root := sr.BootedRoot("fedora-atomic", c1, 0, false)
	h := ostreetest.LiveHost(root)
	r, rec := ostreetest.RunCheck(t, h, "ostree.booted")
	want(t, r, selftest.StatusPass, "booted fedora-atomic "+c1[:10])
	if rec.Deployment == nil || rec.Deployment.Checksum != c1 || rec.Deployment.Version != "28.1" || rec.Deployment.Refspec != ostreetest.Branch {
		t.Errorf("record deployment %+v", rec.Deployment)
	}

	// The bootloader check, live: the default (28.2) is the pending one.
	r, _ = ostreetest.RunCheck(t, h, "ostree.bootloader")
	want(t, r, selftest.StatusPass, "default fedora-atomic "+c2[:10])

	// /usr writable on a locked deployment fails.
	if err := syscall.Mount("", filepath.Join(root, "usr"), "", syscall.MS_REMOUNT|syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	r, _ = ostreetest.RunCheck(t, h, "ostree.booted")
	want(t, r, selftest.StatusFail, "/usr is mounted read-write and the deployment is not unlocked")

	// A sysroot configured read-only but mounted read-write fails.
	cfg := filepath.Join(sr.Repo, "config")
	data, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(data, []byte("\n[sysroot]\nreadonly=true\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ = ostreetest.RunCheck(t, h, "ostree.booted")
	want(t, r, selftest.StatusFail, "/sysroot is mounted read-write but the sysroot is configured read-only")
}

func TestBootedReadOnlySysroot(t *testing.T) {
	sr, c2, _ := ostreetest.TwoDeployments(t)
	cfg := filepath.Join(sr.Repo, "config")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, []byte("\n[sysroot]\nreadonly=true\n")...), 0o644)
	root := sr.BootedRoot("fedora-atomic", c2, 0, true)
	r, _ := ostreetest.RunCheck(t, ostreetest.LiveHost(root), "ostree.booted")
	want(t, r, selftest.StatusPass, "booted fedora-atomic "+c2[:10])
	found := false
	for _, e := range r.Evidence {
		if e.Name == "/sysroot mount" && e.Seen == "read-only" {
			found = true
		}
	}
	if !found {
		t.Errorf("evidence %+v", r.Evidence)
	}
}

// /run/ostree-booted present but / is not any deployment.
func TestBootedUnidentified(t *testing.T) {
	sr, _, _ := ostreetest.TwoDeployments(t)
	os.MkdirAll(filepath.Join(sr.Dir, "run"), 0o755)
	os.WriteFile(filepath.Join(sr.Dir, "run", "ostree-booted"), nil, 0o644)
	r, _ := ostreetest.RunCheck(t, ostreetest.LiveHost(sr.Dir), "ostree.booted")
	want(t, r, selftest.StatusFail, "/run/ostree-booted exists but no deployment's directory is the running root (dev ")
}

func TestBootloaderOffline(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	h := selftest.NewHost(sr.Dir, nil)
	r, _ := ostreetest.RunCheck(t, h, "ostree.bootloader")
	want(t, r, selftest.StatusPass, "2 entries boot 2 deployments")

	// A syslinux.cfg whose default is not the first entry.
	entries, _ := filepath.Glob(filepath.Join(sr.Dir, "boot", "loader", "entries", "*.conf"))
	var old string
	for _, e := range entries {
		if data, _ := os.ReadFile(e); strings.Contains(string(data), "28.1") {
			for _, l := range strings.Split(string(data), "\n") {
				if strings.HasPrefix(l, "options ") {
					old = strings.TrimPrefix(l, "options ")
				}
			}
		}
	}
	cfg := "DEFAULT Old One\nLABEL Old One\n\tKERNEL /x\n\tAPPEND " + old + "\n"
	os.WriteFile(filepath.Join(sr.Dir, "boot", "loader", "syslinux.cfg"), []byte(cfg), 0o644)
	r, _ = ostreetest.RunCheck(t, h, "ostree.bootloader")
	want(t, r, selftest.StatusFail, "/boot/loader/syslinux.cfg boots "+old+" by default")
	os.Remove(filepath.Join(sr.Dir, "boot", "loader", "syslinux.cfg"))

	// Remove the kernel the default entry boots.
	var kernel string
	for _, e := range entries {
		data, _ := os.ReadFile(e)
		if strings.Contains(string(data), "28.2") {
			for _, l := range strings.Split(string(data), "\n") {
				if strings.HasPrefix(l, "linux ") {
					kernel = strings.TrimPrefix(l, "linux ")
				}
			}
		}
	}
	if err := os.Remove(filepath.Join(sr.Dir, "boot", kernel)); err != nil {
		t.Fatal(err)
	}
	r, _ = ostreetest.RunCheck(t, h, "ostree.bootloader")
	want(t, r, selftest.StatusFail, "of deployment "+c2[:10]+"….0: kernel /boot"+kernel+" is missing")
	_ = c1
}

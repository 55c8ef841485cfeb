package ostree_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// The rollback deployment (28.1) booted the way ostree-prepare-root sets
// a host up: passes, and records the booted deployment.
func TestBootedOnABootedRoot(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	root := sr.BootedRoot("fedora-atomic", c1, 0, false)
	h := ostreetest.LiveHost(root)
	r, rec := checktest.WithDepends(t, h, "ostree.booted")
	checktest.Expect(t, r, record.StatusPass, "booted fedora-atomic "+c1[:10])
	if rec.Deployment == nil || rec.Deployment.Checksum != c1 || rec.Deployment.Version != "28.1" || rec.Deployment.Refspec != ostreetest.Branch {
		t.Errorf("record deployment %+v", rec.Deployment)
	}

	// The kernel's ostree= argument: the entry that booted 28.1 agrees;
	// one naming another boot checksum (28.2 has another kernel) does not.
	args := map[string]string{}
	entries, _ := filepath.Glob(filepath.Join(sr.Dir, "boot", "loader", "entries", "*.conf"))
	for _, e := range entries {
		data, _ := os.ReadFile(e)
		for _, l := range strings.Split(string(data), "\n") {
			if o, ok := strings.CutPrefix(l, "options "); ok {
				args[map[bool]string{true: "28.1", false: "28.2"}[strings.Contains(string(data), "28.1")]] = o
			}
		}
	}
	cmdline := filepath.Join(root, "proc", "cmdline")
	os.WriteFile(cmdline, []byte("root=/dev/vda1 "+args["28.1"]+"\n"), 0o644)
	r, _ = checktest.WithDepends(t, h, "ostree.booted")
	checktest.Expect(t, r, record.StatusPass, "booted fedora-atomic "+c1[:10])
	os.WriteFile(cmdline, []byte(args["28.2"]+"\n"), 0o644)
	r, _ = checktest.WithDepends(t, h, "ostree.booted")
	checktest.Expect(t, r, record.StatusFail, "the kernel was booted with "+args["28.2"]+", which is not the booted deployment's stateroot fedora-atomic and boot checksum")
	os.WriteFile(cmdline, nil, 0o644)

	// The bootloader check, live: the default (28.2) is the pending one.
	r, _ = checktest.WithDepends(t, h, "ostree.bootloader")
	checktest.Expect(t, r, record.StatusPass, "default fedora-atomic "+c2[:10])

	// /usr writable on a locked deployment fails.
	if err := syscall.Mount("", filepath.Join(root, "usr"), "", syscall.MS_REMOUNT|syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	r, _ = checktest.WithDepends(t, h, "ostree.booted")
	checktest.Expect(t, r, record.StatusFail, "/usr is mounted read-write and the deployment is not unlocked")

	// A sysroot configured read-only but mounted read-write fails.
	cfg := filepath.Join(sr.Repo, "config")
	data, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(data, []byte("\n[sysroot]\nreadonly=true\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ = checktest.WithDepends(t, h, "ostree.booted")
	checktest.Expect(t, r, record.StatusFail, "/sysroot is mounted read-write but the sysroot is configured read-only")
}

func TestBootedReadOnlySysroot(t *testing.T) {
	sr, c2, _ := ostreetest.TwoDeployments(t)
	cfg := filepath.Join(sr.Repo, "config")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(data, []byte("\n[sysroot]\nreadonly=true\n")...), 0o644)
	root := sr.BootedRoot("fedora-atomic", c2, 0, true)
	r, _ := checktest.WithDepends(t, ostreetest.LiveHost(root), "ostree.booted")
	checktest.Expect(t, r, record.StatusPass, "booted fedora-atomic "+c2[:10])
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
	r, _ := checktest.WithDepends(t, ostreetest.LiveHost(sr.Dir), "ostree.booted")
	checktest.Expect(t, r, record.StatusFail, "/run/ostree-booted exists but no deployment's directory is the running root (dev ")
}

func TestBootloaderOffline(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	h := selftest.NewRunContext(selftest.NewHost(sr.Dir), nil)
	r, _ := checktest.WithDepends(t, h, "ostree.bootloader")
	checktest.Expect(t, r, record.StatusPass, "2 entries boot 2 deployments")

	// A deployment directory without an entry yet (a run during a deploy
	// sees one): reported, not failed.
	name := sr.DeployTree("fedora-atomic", c1)
	r, _ = checktest.WithDepends(t, h, "ostree.bootloader")
	checktest.Expect(t, r, record.StatusPass, "2 entries boot 2 deployments")
	if !strings.Contains(fmt.Sprint(r.Evidence), "fedora-atomic/"+name+" (being deployed") {
		t.Errorf("evidence %+v", r.Evidence)
	}

	// A second stateroot deployed last takes the default entry: fine
	// unless the configuration says fedora-atomic is the one that matters.
	sr.Run("ostree", "admin", "os-init", "--sysroot="+sr.Dir, "debian")
	sr.Commit("debian/12", "12.1", "d")
	sr.Deploy("debian", "debian/12")
	r, _ = checktest.WithDepends(t, h, "ostree.bootloader")
	checktest.Expect(t, r, record.StatusPass, "default debian ")
	h.Config.Deployment.Stateroot = "fedora-atomic"
	r, _ = checktest.WithDepends(t, h, "ostree.bootloader")
	checktest.Expect(t, r, record.StatusFail, "the default entry boots debian ")
	checktest.Expect(t, r, record.StatusFail, "not the pending or booted deployment fedora-atomic "+c2[:10])
	h.Config.Deployment.Stateroot = ""
	sr.Rollback()
	entries, _ := filepath.Glob(filepath.Join(sr.Dir, "boot", "loader", "entries", "*.conf"))

	// A syslinux.cfg whose default is not the first entry.
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
	r, _ = checktest.WithDepends(t, h, "ostree.bootloader")
	checktest.Expect(t, r, record.StatusFail, "/boot/loader/syslinux.cfg boots "+old+" by default")
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
	r, _ = checktest.WithDepends(t, h, "ostree.bootloader")
	checktest.Expect(t, r, record.StatusFail, "of deployment "+c2[:10]+"….0: kernel /boot"+kernel+" is missing")
	_ = c1
}

// ostree itself writes syslinux.cfg on deploy; its default must be the
// first entry's, and the check notices when it is not.
func TestBootloaderSyslinuxWrittenByOstree(t *testing.T) {
	sr := ostreetest.New(t, "debian")
	sr.UseSyslinux()
	sr.Commit("debian/12", "12.1", "a")
	sr.Deploy("debian", "debian/12")
	c2 := sr.Commit("debian/12", "12.2", "b")
	sr.Deploy("debian", "debian/12")
	h := selftest.NewRunContext(selftest.NewHost(sr.Dir), nil)
	r, _ := checktest.WithDepends(t, h, "ostree.bootloader")
	checktest.Expect(t, r, record.StatusPass, "default debian "+c2[:10])
	seen := ""
	for _, e := range r.Evidence {
		if e.Name == "/boot/loader/syslinux.cfg default" {
			seen = e.Seen
		}
	}
	if !strings.HasPrefix(seen, "ostree=/ostree/boot.") {
		t.Fatalf("evidence %+v", r.Evidence)
	}
	cfg := filepath.Join(sr.Dir, "boot", "loader", "syslinux.cfg")
	data, _ := os.ReadFile(cfg)
	// Point DEFAULT at the second label (12.1).
	lines := strings.Split(string(data), "\n")
	var labels []string
	for _, l := range lines {
		if strings.HasPrefix(l, "LABEL ") {
			labels = append(labels, strings.TrimPrefix(l, "LABEL "))
		}
	}
	if len(labels) != 2 {
		t.Fatalf("syslinux.cfg written by ostree:\n%s", data)
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "DEFAULT ") {
			lines[i] = "DEFAULT " + labels[1]
		}
	}
	os.WriteFile(cfg, []byte(strings.Join(lines, "\n")), 0o644)
	r, _ = checktest.WithDepends(t, h, "ostree.bootloader")
	checktest.Expect(t, r, record.StatusFail, "/boot/loader/syslinux.cfg boots ostree=/ostree/boot.")
}

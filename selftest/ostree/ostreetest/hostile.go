package ostreetest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// hostileKey is the key the hostile image's user-data asks for.
const hostileKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMkLkzeUXFqlK11ugVBPTddX4Yj47jJo6UN3oTKpopSF usera@example.test"

// HugeSize is the size of the sparse files a hostile image holds: 1 GB
// (truncate, not written), far over every read limit.
const HugeSize = 1 << 30

// Hostile is an image for `run --sysroot` built to break the checks that
// read files (issue 15.1 and 17.1): a real sysroot made by ostree, with
// the files the offline checks read (storage, cloud-init, boot loader,
// origins, system containers) replaced by links out of the image, `..`
// escapes, FIFOs, a device node and sparse 1 GB files.
type Hostile struct {
	// Dir is the image's root.
	Dir string
	// Secret is the content of the live-host file every escape points
	// at; it must never appear in a record.
	Secret string
	// Marker is that file, outside Dir.
	Marker string
}

// HostileImage makes a Hostile image. With huge, the files the checks
// read first are 1 GB sparse files; without, they are links out of the
// image, FIFOs and a character device (only root may make one).
func HostileImage(t testing.TB, huge bool) *Hostile {
	t.Helper()
	sr := New(t, "fedora-atomic")
	sr.UseSyslinux()
	csum := sr.Commit(Branch, "28.1", "a")
	sr.Deploy("fedora-atomic", Branch)
	h := &Hostile{Dir: sr.Dir, Secret: "LIVE-HOST-SECRET-d41d8cd98f00"}
	h.Marker = filepath.Join(t.TempDir(), "shadow")
	// Content that parses as nothing the checks expect, so a read of it
	// would be quoted in an error.
	if err := os.WriteFile(h.Marker, []byte(h.Secret+"{\n"+h.Secret+"=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	abs := h.Marker
	// Relative escapes climb far above any root.
	rel := strings.Repeat("../", 30) + strings.TrimPrefix(h.Marker, "/")
	origin := filepath.Join("ostree/deploy/fedora-atomic/deploy", csum+".0.origin")
	write := func(p, data string) {
		p = filepath.Join(h.Dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(p, target string) {
		p = filepath.Join(h.Dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	fifo := func(p string) {
		p = filepath.Join(h.Dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sparse := func(p string) {
		write(p, "")
		if err := os.Truncate(filepath.Join(h.Dir, p), HugeSize); err != nil {
			t.Fatal(err)
		}
	}
	// What makes the checks apply: the runtime's unit, cloud-init, a
	// system container.
	write("usr/lib/systemd/system/docker.service", "[Service]\nEnvironmentFile=-/etc/sysconfig/docker-env\nExecStart=/usr/bin/dockerd $OPTIONS\n")
	write("usr/bin/cloud-init", "#!/bin/sh\n")
	write("var/lib/cloud/instances/iid-evil/boot-finished", "1\n")
	link("var/lib/cloud/instance", "/var/lib/cloud/instances/iid-evil")
	write("var/lib/containers/atomic/evil/.keep", "")
	// What the cloud-init checks compare: a requested key and a runcmd,
	// for the default user.
	write("var/lib/cloud/instances/iid-evil/cloud-config.txt", "#cloud-config\nssh_authorized_keys:\n- "+hostileKey+"\nruncmd:\n- [touch, /var/tmp/ran]\n")
	write("etc/cloud/cloud.cfg.d/91-user.cfg", "system_info:\n  default_user:\n    name: fedora\n")
	write("var/lib/cloud/instances/iid-evil/scripts/runcmd", "#!/bin/sh\ntouch /var/tmp/ran\n")

	if huge {
		sparse("etc/passwd")
		sparse("etc/docker/daemon.json")
		sparse("boot/loader/syslinux.cfg")
		sparse("var/lib/cloud/data/status.json")
		sparse("run/cloud-init/status.json")
		sparse("var/log/cloud-init.log")
		sparse("var/lib/containers/atomic/evil/info")
		sparse(origin)
		return h
	}
	// The issue-17 repros: daemon.json -> the live host's shadow (here
	// the marker), syslinux.cfg -> /dev/zero.
	link("etc/docker/daemon.json", abs)
	link("etc/sysconfig/docker-storage-setup", rel)
	link("etc/systemd/system/docker.service.d/10-evil.conf", "missing/"+rel)
	fifo("etc/sysconfig/docker-storage")
	link("etc/sysconfig/docker-env", "/dev/zero")
	if err := os.MkdirAll(filepath.Join(h.Dir, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(h.Dir, "dev/zero"), syscall.S_IFCHR|0o666, 1<<8|5); err != nil {
		t.Fatal(err)
	}
	link("boot/loader/syslinux.cfg", "/dev/zero")
	link("boot/grub2/grub.cfg", abs)
	link("boot/loader/entries/ostree-9-evil.conf", abs)
	link(origin, abs)
	link("etc/cloud/cloud.cfg", abs)
	link("etc/cloud/cloud.cfg.d/90-evil.cfg", rel)
	link("var/lib/cloud/data/status.json", abs)
	link("var/lib/cloud/data/result.json", "missing/"+rel)
	link("var/lib/cloud/data/instance-id", rel)
	fifo("run/cloud-init/status.json")
	fifo("run/cloud-init/result.json")
	link("var/lib/cloud/instances/iid-evil/user-data.txt", abs)
	write("etc/passwd", "fedora:x:1000:1000::/var/home/fedora:/bin/bash\n")
	link("var/home/fedora/.ssh/authorized_keys", abs)
	fifo("var/lib/cloud/instances/iid-evil/sem/config_runcmd")
	link("var/log/cloud-init.log", "/dev/zero")
	link("var/lib/containers/atomic/evil/info", abs)
	fifo("var/lib/containers/atomic/evil/config.json")
	link("var/lib/containers/atomic/gone", filepath.Dir(abs))
	return h
}

package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

// diskImage makes a real partitioned disk with sfdisk (label dos or gpt)
// whose partitions are ext4 file systems made by mkfs.ext4 -d from the
// given trees (path -> content), unmounted, as a user can.
func diskImage(t *testing.T, label string, trees ...map[string]string) string {
	t.Helper()
	testutil.NeedCommand(t, "fdisk", "sfdisk")
	testutil.NeedCommand(t, "e2fsprogs", "mkfs.ext4")
	testutil.NeedCommand(t, "e2fsprogs", "debugfs")
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	const mib = 1 << 20
	size := int64(2+16*len(trees)) * mib
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	table.WriteString("label: " + label + "\n")
	for i := range trees {
		table.WriteString("start=" + itoa(2048+i*16*2048) + ", size=" + itoa(16*2048) + "\n")
	}
	cmd := exec.Command("sfdisk", "-q", img)
	cmd.Stdin = strings.NewReader(table.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v: %s", err, out)
	}
	for i, tree := range trees {
		root := filepath.Join(dir, "tree"+itoa(i))
		for p, data := range tree {
			testutil.WriteFile(t, root, p, data)
		}
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		off := int64(mib) + int64(i)*16*mib
		if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-d", root, "-E", "offset="+itoa(int(off)), img, "16M").CombinedOutput(); err != nil {
			t.Fatalf("mkfs.ext4: %v: %s", err, out)
		}
	}
	return img
}

func itoa(i int) string { return strconv.Itoa(i) }

func toQcow2(t *testing.T, raw string) string {
	t.Helper()
	testutil.NeedCommand(t, "qemu", "qemu-img")
	q := raw + ".qcow2"
	if out, err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, q).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v: %s", err, out)
	}
	return q
}

func TestDetectProvision(t *testing.T) {
	ctx := context.Background()
	ostreeSyslinux := "LABEL ostree\n\tKERNEL /boot/ostree/x/vmlinuz\n\tAPPEND root=UUID=x rw console=ttyS0 %s ostree=/ostree/boot.1/x/0\n"
	bls := "title Fedora CoreOS\nlinux /ostree/x/vmlinuz\noptions rw mitigations=auto,nosmt %s ostree=/ostree/boot.1/x/0\n"
	for _, tc := range []struct {
		name  string
		label string
		qcow  bool
		trees []map[string]string
		want  string
		why   string
	}{
		// The testbed's layout: one ext4 partition, /boot a directory on
		// it, extlinux reading ostree's syslinux.cfg.
		{"testbed ignition", "dos", false, []map[string]string{{"boot/loader/syslinux.cfg": strings.ReplaceAll(ostreeSyslinux, "%s", "ignition.firstboot ignition.platform.id=qemu")}},
			ProvisionIgnition, "partition 1: /boot/loader/syslinux.cfg has ignition.firstboot"},
		{"testbed cloud-init", "dos", false, []map[string]string{{"boot/loader/syslinux.cfg": strings.ReplaceAll(ostreeSyslinux, "%s", "")}},
			ProvisionCloudInit, "on 1 partition(s)"},
		// Fedora CoreOS's layout (qcow2, GPT, a boot partition after
		// others): the stamp on the boot partition's root, BLS entries.
		{"fcos stamp", "gpt", true, []map[string]string{{"EFI/fedora/grub.cfg": "search\n"}, {"ignition.firstboot": "", "loader/entries/ostree-1.conf": strings.ReplaceAll(bls, "%s", "")}},
			ProvisionIgnition, "partition 2: /ignition.firstboot exists"},
		{"fcos provisioned BLS", "gpt", true, []map[string]string{{"loader/entries/ostree-1.conf": strings.ReplaceAll(bls, "%s", "ignition.platform.id=qemu")}},
			ProvisionIgnition, "partition 1: /loader/entries/ostree-1.conf has ignition.platform.id=qemu"},
		{"gpt cloud-init", "gpt", true, []map[string]string{{"loader/entries/a.conf": strings.ReplaceAll(bls, "%s", "ignition=no")}},
			ProvisionCloudInit, "on 1 partition(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := diskImage(t, tc.label, tc.trees...)
			if tc.qcow {
				img = toQcow2(t, img)
			}
			got, why, err := DetectProvision(ctx, img)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("DetectProvision = %s (%s), want %s (%s)", got, why, tc.want, tc.why)
			}
		})
	}

	// Not a disk: no partition table.
	f := filepath.Join(t.TempDir(), "junk.img")
	os.WriteFile(f, make([]byte, 4096), 0o600)
	if _, _, err := DetectProvision(ctx, f); err == nil || !strings.Contains(err.Error(), "no MBR partition table") {
		t.Errorf("junk image: %v", err)
	}
}

package qemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// First-boot provisioners the driver can seed a guest for.
const (
	ProvisionAuto      = "auto"       // what the image's boot entries ask for (DetectProvision)
	ProvisionCloudInit = "cloud-init" // a NoCloud seed on a CD-ROM (Seed)
	ProvisionIgnition  = "ignition"   // an Ignition config on fw_cfg (Ignition)
)

// Firmware.
const (
	FirmwareBIOS = "bios" // QEMU's own SeaBIOS
	FirmwareUEFI = "uefi" // Debian's OVMF (package ovmf)
)

// OVMF is where Debian's package ovmf puts the UEFI firmware (code, read
// only) and the template of its variable store (copied per VM: the guest
// writes its boot entries there). The 4 MiB builds without Secure Boot.
var (
	OVMFCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	OVMFVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// maxCopiedPartition bounds what DetectProvision copies out of a
// non-raw image to read it: a boot partition (Fedora CoreOS's is 384
// MiB), never a whole root file system.
const maxCopiedPartition = 1 << 30

// DetectProvision tells which provisioner an image boots with, reading
// only its boot files, the place the first boot's kernel command line
// comes from. Ignition runs only when the kernel command line has
// ignition.firstboot (dracut/30ignition/ignition-generator in
// coreos/ignition), so an image is an Ignition image when one of its
// ext2/3/4 file systems (or the /boot directory on it) has
//   - ignition.firstboot, the stamp Fedora CoreOS's GRUB turns into that
//     argument on the first boot (src/grub.cfg in coreos/coreos-assembler;
//     coreos-ignition-firstboot-complete.service removes it), or
//   - a boot entry (loader/entries/*.conf, loader/syslinux.cfg,
//     syslinux/syslinux.cfg, grub2/grub.cfg, grub/grub.cfg) naming
//     ignition.firstboot or ignition.platform.id=.
//
// Otherwise it is a cloud-init image, the driver's default. The second
// return says what was seen. The partitions come from the MBR or GPT;
// each is read with debugfs (e2fsprogs), in place for a raw image, and
// for another format (qcow2) from a copy qemu-img makes of partitions up
// to 1 GiB (a partition larger than that is not read, and the answer
// says so). Every command is bounded in time.
func DetectProvision(ctx context.Context, image string) (string, string, error) {
	format, err := imageFormat(ctx, image)
	if err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp("", "atomic-selftest-detect-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	head := image
	if format != "raw" {
		head = filepath.Join(tmp, "head")
		if err := imageSlice(ctx, image, format, head, 0, 1<<20); err != nil {
			return "", "", err
		}
	}
	parts, err := partitions(head)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", image, err)
	}
	var skipped []string
	for i, p := range parts {
		dev := fmt.Sprintf("%s?offset=%d", image, p.start)
		if format != "raw" {
			if p.size > maxCopiedPartition {
				skipped = append(skipped, fmt.Sprintf("partition %d (%d MiB)", i+1, p.size>>20))
				continue
			}
			dev = filepath.Join(tmp, "part"+strconv.Itoa(i+1))
			if err := imageSlice(ctx, image, format, dev, p.start, p.size); err != nil {
				return "", "", err
			}
		}
		if why := ignitionSigns(ctx, dev); why != "" {
			return ProvisionIgnition, fmt.Sprintf("partition %d: %s", i+1, why), nil
		}
		if format != "raw" {
			os.Remove(dev)
		}
	}
	why := fmt.Sprintf("no ignition.firstboot stamp and no boot entry naming ignition.firstboot or ignition.platform.id= on %d partition(s)", len(parts))
	if len(skipped) > 0 {
		why += " (not read: " + strings.Join(skipped, ", ") + ", larger than a boot partition)"
	}
	return ProvisionCloudInit, why, nil
}

// ignitionSigns reads one file system with debugfs and returns what marks
// it as an Ignition image, "" when nothing does or it is not ext2/3/4.
func ignitionSigns(ctx context.Context, dev string) string {
	for _, dir := range []string{"", "/boot"} {
		if debugfsExists(ctx, dev, dir+"/ignition.firstboot") {
			return dir + "/ignition.firstboot exists"
		}
		files := []string{dir + "/loader/syslinux.cfg", dir + "/syslinux/syslinux.cfg", dir + "/grub2/grub.cfg", dir + "/grub/grub.cfg"}
		for _, e := range debugfsList(ctx, dev, dir+"/loader/entries") {
			if strings.HasSuffix(e, ".conf") {
				files = append(files, dir+"/loader/entries/"+e)
			}
		}
		for _, f := range files {
			b := debugfs(ctx, dev, "cat "+f)
			for _, w := range strings.Fields(string(b)) {
				if w == "ignition.firstboot" || strings.HasPrefix(w, "ignition.platform.id=") {
					return f + " has " + w
				}
			}
		}
	}
	return ""
}

// debugfs runs one read-only debugfs request and returns its output
// (debugfs prints its errors on stderr and exits 0; a file that is not
// there gives no output). Bounded to 20 s and 1 MiB.
func debugfs(ctx context.Context, dev, request string) []byte {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "debugfs", "-R", request, dev)
	var out bytes.Buffer
	cmd.Stdout = &limitWriter{w: &out, n: 1 << 20}
	if err := cmd.Run(); err != nil {
		return nil
	}
	return out.Bytes()
}

// debugfsList lists a directory's names (ls -p prints
// /inode/mode/uid/gid/name/size/ per entry).
func debugfsList(ctx context.Context, dev, dir string) []string {
	var names []string
	for _, l := range strings.Split(string(debugfs(ctx, dev, "ls -p "+dir)), "\n") {
		f := strings.Split(l, "/")
		if len(f) >= 7 && f[5] != "." && f[5] != ".." {
			names = append(names, f[5])
		}
	}
	return names
}

func debugfsExists(ctx context.Context, dev, p string) bool {
	dir, name := filepath.Split(p)
	for _, n := range debugfsList(ctx, dev, dir) {
		if n == name {
			return true
		}
	}
	return false
}

type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room < len(p) {
		if room > 0 {
			l.w.Write(p[:room])
		}
		return len(p), nil
	}
	return l.w.Write(p)
}

// imageSlice copies size bytes from offset of a (non-raw) image into a
// raw file with qemu-img dd, in 1 MiB blocks (partitions start and end
// on MiB boundaries in every partitioning tool since 2008; a partial
// last block is rounded up). QEMU 7.2's qemu-img dd (Debian 12's) counts
// count= from the start of the input, not from skip= (img_dd stops at
// count*bs), so count is skip plus the blocks wanted; a qemu-img that
// counts from skip= copies more than asked, which the reader ignores.
func imageSlice(ctx context.Context, image, format, out string, offset, size int64) error {
	const bs = 1 << 20
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	argv := []string{"dd", "-f", format, "-O", "raw", "bs=" + strconv.Itoa(bs), "if=" + image, "of=" + out,
		"skip=" + strconv.FormatInt(offset/bs, 10), "count=" + strconv.FormatInt(offset/bs+(size+bs-1)/bs, 10)}
	if b, err := exec.CommandContext(ctx, "qemu-img", argv...).CombinedOutput(); err != nil {
		return fmt.Errorf("qemu-img %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(b)))
	}
	return nil
}

type partition struct{ start, size int64 }

// partitions reads an MBR partition table, or the GPT a protective MBR
// points to (UEFI spec 2.10, 5.2 and 5.3), from the first MiB of a disk.
// Extended MBR partitions are not followed: no boot partition is one.
func partitions(disk string) ([]partition, error) {
	f, err := os.Open(disk)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	head := make([]byte, 1<<20)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	if len(head) < 512 || head[510] != 0x55 || head[511] != 0xaa {
		return nil, errors.New("no MBR partition table (no 0x55aa signature in sector 0)")
	}
	var parts []partition
	gpt := false
	for i := 0; i < 4; i++ {
		e := head[446+16*i : 446+16*(i+1)]
		typ := e[4]
		start, count := binary.LittleEndian.Uint32(e[8:]), binary.LittleEndian.Uint32(e[12:])
		switch {
		case typ == 0xee:
			gpt = true
		case typ == 0 || typ == 0x05 || typ == 0x0f || typ == 0x85 || count == 0:
		default:
			parts = append(parts, partition{int64(start) * 512, int64(count) * 512})
		}
	}
	if !gpt {
		return parts, nil
	}
	if len(head) < 1024 || string(head[512:520]) != "EFI PART" {
		return nil, errors.New("protective MBR but no GPT header in sector 1")
	}
	h := head[512:]
	lba := int64(binary.LittleEndian.Uint64(h[72:]))
	num := int64(binary.LittleEndian.Uint32(h[80:]))
	esz := int64(binary.LittleEndian.Uint32(h[84:]))
	if esz < 128 || num > 1024 {
		return nil, fmt.Errorf("GPT header: %d entries of %d bytes", num, esz)
	}
	parts = nil
	for i := int64(0); i < num; i++ {
		off := lba*512 + i*esz
		if off+esz > int64(len(head)) {
			break
		}
		e := head[off : off+esz]
		if bytes.Equal(e[:16], make([]byte, 16)) {
			continue
		}
		first, last := int64(binary.LittleEndian.Uint64(e[32:])), int64(binary.LittleEndian.Uint64(e[40:]))
		if last >= first {
			parts = append(parts, partition{first * 512, (last - first + 1) * 512})
		}
	}
	return parts, nil
}

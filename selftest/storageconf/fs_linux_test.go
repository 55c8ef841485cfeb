package storageconf

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

func TestSupportsDTypeHere(t *testing.T) {
	dir := t.TempDir()
	if ok, judged, err := SupportsDType(dir); err != nil || judged {
		t.Fatalf("empty dir: supported=%v judged=%v err=%v, want not judged", ok, judged, err)
	}
	os.Mkdir(filepath.Join(dir, "l"), 0o755)
	fs, _ := FSType(dir)
	ok, judged, err := SupportsDType(dir)
	if err != nil || !judged {
		t.Fatalf("err %v judged %v", err, judged)
	}
	// ext4, xfs with ftype=1, tmpfs and btrfs all fill in d_type.
	if !ok {
		t.Errorf("%s at %s reports no d_type", fs, dir)
	}
}

// TestXFS makes a real XFS filesystem with ftype=1 on a loop device and
// checks that the ioctl reads the same ftype as xfs_info. (ftype=0 needs
// the V4 format, which this kernel refuses to mount.)
func TestXFS(t *testing.T) {
	testutil.NeedRoot(t)
	mkfs := testutil.NeedCommand(t, "xfs", "mkfs.xfs")
	dir := t.TempDir()
	img := filepath.Join(dir, "xfs.img")
	mnt := filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 300<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-n", "ftype=1", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		testutil.Need(t, "xfs", false, "cannot loop-mount XFS: "+strings.TrimSpace(string(out)))
	}
	defer exec.Command("umount", mnt).Run()
	if fs, err := FSType(mnt); err != nil || fs != "xfs" {
		t.Fatalf("FSType = %q, %v", fs, err)
	}
	ftype, err := XFSFtype(mnt)
	if err != nil {
		t.Fatal(err)
	}
	if !ftype {
		t.Error("XFSFtype = false on a filesystem made with ftype=1")
	}
	if out, err := exec.Command("xfs_info", mnt).Output(); err == nil && !strings.Contains(string(out), "ftype=1") {
		t.Errorf("xfs_info disagrees: %s", out)
	}
	os.Mkdir(filepath.Join(mnt, "overlay2"), 0o755)
	if ok, judged, err := SupportsDType(mnt); err != nil || !judged || !ok {
		t.Errorf("SupportsDType on XFS ftype=1 = %v %v %v", ok, judged, err)
	}
	if _, err := XFSFtype(dir); err == nil {
		t.Error("XFSFtype on a non-XFS directory succeeded")
	}
}

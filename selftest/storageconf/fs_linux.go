package storageconf

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// FSType names the filesystem dir is on (statfs(2) f_type).
func FSType(dir string) (string, error) {
	var st unix.Statfs_t
	// outside the door: dir is the running daemon's own directory
	// (docker info's DockerRootDir), on the live host; never an image's.
	if err := unix.Statfs(dir, &st); err != nil {
		return "", fmt.Errorf("statfs %s: %w", dir, err)
	}
	switch uint32(st.Type) {
	case unix.XFS_SUPER_MAGIC:
		return "xfs", nil
	case unix.EXT4_SUPER_MAGIC:
		return "extfs", nil
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs", nil
	case unix.TMPFS_MAGIC:
		return "tmpfs", nil
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs", nil
	}
	return fmt.Sprintf("0x%x", uint32(st.Type)), nil
}

// SupportsDType reports whether the filesystem of dir fills in d_type in
// its directory entries, which overlay2 needs. Like the daemon's own test
// it reads raw entries with getdents64(2) (os.ReadDir would quietly lstat
// entries whose type is DT_UNKNOWN); unlike it, it writes nothing: it
// reads dir's existing entries. "." and ".." are left out because XFS
// reports them as directories even without ftype. ok is false when dir
// has no other entry to judge by.
func SupportsDType(dir string) (supported, ok bool, err error) {
	// outside the door: the running daemon's directory; raw getdents.
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, false, fmt.Errorf("opening %s: %w", dir, err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 16<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return false, false, fmt.Errorf("getdents %s: %w", dir, err)
		}
		if n <= 0 {
			return false, false, nil
		}
		for off := 0; off+19 <= n; {
			// struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen,
			// u8 d_type, char d_name[].
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen == 0 || off+reclen > n {
				return false, false, fmt.Errorf("getdents %s: bad record length %d", dir, reclen)
			}
			typ := buf[off+18]
			name := buf[off+19 : off+reclen]
			if i := indexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			off += reclen
			if s := string(name); s == "." || s == ".." {
				continue
			}
			return typ != unix.DT_UNKNOWN, true, nil
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// XFS_IOC_FSGEOMETRY_V1 is _IOR('X', 100, struct xfs_fsop_geom_v1), the
// geometry call every XFS kernel answers (xfs_fs.h); the struct is 112
// bytes and its flags word is at offset 92.
const (
	xfsIocFSGeometryV1 = 0x80705864
	xfsGeomFlagsOffset = 92
	xfsGeomFlagFtype   = 0x10000 // XFS_FSOP_GEOM_FLAGS_FTYPE
)

// XFSFtype reports whether the XFS filesystem of dir was made with
// ftype=1 (directory entries carry the file type), what `xfs_info`
// prints as "ftype=1".
func XFSFtype(dir string) (bool, error) {
	f, err := os.Open(dir) // outside the door: the running daemon's directory, for an ioctl
	if err != nil {
		return false, err
	}
	defer f.Close()
	var geom [112]byte
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), xfsIocFSGeometryV1, uintptr(unsafe.Pointer(&geom[0])))
	if errno != 0 {
		return false, fmt.Errorf("XFS_IOC_FSGEOMETRY on %s: %w", dir, errno)
	}
	flags := binary.NativeEndian.Uint32(geom[xfsGeomFlagsOffset:])
	return flags&xfsGeomFlagFtype != 0, nil
}

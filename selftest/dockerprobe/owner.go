package dockerprobe

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// Owner identifies the process that created a probe container or image:
// the boot it ran in, its pid and its start time in clock ticks after boot
// (field 22 of /proc/PID/stat, see proc(5)), so a recycled pid is not
// mistaken for the same process.
type Owner struct {
	BootID    string
	PID       int
	StartTime uint64
}

// String is the label value: "BOOTID/PID/STARTTIME".
func (o Owner) String() string {
	return fmt.Sprintf("%s/%d/%d", o.BootID, o.PID, o.StartTime)
}

// ParseOwner reads a label value written by String.
func ParseOwner(s string) (Owner, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || parts[0] == "" {
		return Owner{}, fmt.Errorf("owner label %q is not BOOTID/PID/STARTTIME", s)
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return Owner{}, fmt.Errorf("owner label %q: bad pid", s)
	}
	st, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		return Owner{}, fmt.Errorf("owner label %q: bad start time", s)
	}
	return Owner{BootID: parts[0], PID: pid, StartTime: st}, nil
}

// Self returns the owner identity of the running process.
func Self() Owner {
	o, _ := OwnerOf(os.Getpid())
	return o
}

// OwnerOf returns the owner identity of the running process pid.
func OwnerOf(pid int) (Owner, error) {
	st, err := startTime(pid)
	return Owner{BootID: bootID(), PID: pid, StartTime: st}, err
}

// Alive reports whether the process o names is still running: same boot,
// and a process with that pid that started at the same time.
func (o Owner) Alive() bool {
	if o.BootID != bootID() {
		return false
	}
	st, err := startTime(o.PID)
	return err == nil && st == o.StartTime
}

func bootID() string {
	b, err := rootfs.FS{}.ReadFile("/proc/sys/kernel/random/boot_id", rootfs.Kernel)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// startTime reads field 22 of /proc/PID/stat. The second field (comm) is
// in parentheses and may itself contain spaces and parentheses, so the
// fields are counted from the last ')'.
func startTime(pid int) (uint64, error) {
	b, err := rootfs.FS{}.ReadFile(fmt.Sprintf("/proc/%d/stat", pid), rootfs.Kernel)
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no comm field", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field 22 is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.var",
		Criterion:   "C1",
		Required:    true,
		Description: "/var is writable and persistent; /usr is read-only on an OSTree host",
		Timeout:     30 * time.Second,
		Run:         checkVar,
	})
}

// probeDir is the tool's own directory under /var, the only place it may
// write to prove /var is writable.
const probeDir = "/var/lib/atomic-selftest"

func checkVar(ctx context.Context, t *selftest.T) {
	h := t.RunContext
	var problems []string

	// Writable: create, fsync and remove a probe file in our own directory.
	// outside the door: the one write of the check, in the tool's own
	// directory, through the root-prefixed path (the file door only reads).
	dir := h.Path(probeDir)
	if err := writeProbe(dir); err != nil {
		problems = append(problems, fmt.Sprintf("/var is not writable: %v", err))
		t.Evidence("/var writable", "yes", err.Error())
	} else {
		t.Evidence("/var writable", "yes", "yes (wrote and removed a probe in "+probeDir+")")
	}

	// Persistent: /var must not be a RAM filesystem, or nothing survives a
	// reboot and the results of earlier boots are lost.
	sf, err := h.Statfs("/var")
	if err != nil {
		problems = append(problems, err.Error())
	} else {
		fsType := fsName(sf.Type)
		t.Evidence("/var filesystem", "persistent (not tmpfs or ramfs)", fsType)
		if sf.Type == unix.TMPFS_MAGIC || sf.Type == unix.RAMFS_MAGIC {
			problems = append(problems, "/var is on "+fsType+": nothing written there survives a reboot")
		}
	}
	if lb := h.History.LastBootID; lb != "" && lb != h.BootID {
		t.Evidence("results of an earlier boot", "", "kept (boot "+record.Short(lb)+")")
	}

	// Read-only /usr: on an OSTree host /usr is a read-only bind mount;
	// /run/ostree-booted says we are on one.
	if ostreeBooted(h.Host) {
		if sf, err := h.Statfs("/usr"); err != nil {
			problems = append(problems, err.Error())
		} else {
			ro := sf.Flags&unix.ST_RDONLY != 0
			t.Evidence("/usr mount", "read-only", map[bool]string{true: "read-only", false: "read-write"}[ro])
			if !ro {
				problems = append(problems, "/usr is mounted read-write on an OSTree host")
			}
		}
	} else {
		t.Evidence("/usr mount", "", "not checked: not an OSTree-booted host (no /run/ostree-booted)")
	}
	t.Conclude(problems, "/var is writable and persistent")
}

func ostreeBooted(h *selftest.Host) bool {
	if h.Offline {
		return false
	}
	return h.Exists("/run/ostree-booted")
}

func writeProbe(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, fmt.Sprintf(".probe-var-%d", os.Getpid()))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) // outside the door: our own probe file
	if err != nil {
		return err
	}
	_, werr := f.WriteString("atomic-selftest /var probe\n")
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(path)
	return errors.Join(werr, serr, cerr, rerr)
}

func fsName(t int64) string {
	switch t {
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.RAMFS_MAGIC:
		return "ramfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	}
	return fmt.Sprintf("0x%x", t)
}

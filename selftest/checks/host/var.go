package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.var",
		Criterion:   "C1",
		Required:    true,
		Description: "/var is writable and persistent; /usr is read-only on an OSTree host unless the booted deployment is unlocked",
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
		t.Evidence("/var writable", "yes", "yes (wrote and synced a probe in "+probeDir+", nothing left behind)")
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
	// /run/ostree-booted says we are on one. `ostree admin unlock` puts a
	// writable overlay on it (development, transient, or a hotfix that
	// persists), which the admin asked for: that passes and says so.
	var unlocked string
	if ostreeBooted(h.Host) {
		if sf, err := h.Statfs("/usr"); err != nil {
			problems = append(problems, err.Error())
		} else if ro := sf.Flags&unix.ST_RDONLY != 0; ro {
			t.Evidence("/usr mount", "read-only", "read-only")
		} else if unlocked = bootedUnlocked(h.Host); unlocked != "" {
			t.Evidence("/usr mount", "read-only, or writable on an unlocked deployment", "read-write (booted deployment unlocked: "+unlocked+")")
		} else {
			t.Evidence("/usr mount", "read-only", "read-write")
			problems = append(problems, "/usr is mounted read-write on an OSTree host and the booted deployment is not unlocked")
		}
	} else {
		t.Evidence("/usr mount", "", "not checked: not an OSTree-booted host (no /run/ostree-booted)")
	}
	if unlocked != "" && len(problems) == 0 {
		t.Pass("/var is writable and persistent; /usr is writable because the booted deployment is unlocked (%s)", unlocked)
		return
	}
	t.Conclude(problems, "/var is writable and persistent")
}

// bootedUnlocked is the booted deployment's unlocked state as ostree
// records it (ostree.Deployment.Unlocked: development, transient, hotfix),
// or "" when it is locked or cannot be told.
func bootedUnlocked(h *selftest.Host) string {
	s, err := ostreehost.Load(h)
	if err != nil || s.Booted == nil || s.Booted.Unlocked == "none" {
		return ""
	}
	return s.Booted.Unlocked
}

func ostreeBooted(h *selftest.Host) bool {
	if h.Offline {
		return false
	}
	return h.Exists("/run/ostree-booted")
}

// probePrefix names the probe files a run makes when the filesystem has
// no O_TMPFILE; a run killed between create and remove leaves one behind,
// and the pid in the name lets a later run tell it is abandoned.
const probePrefix = ".probe-var-"

// writeProbe proves dir's filesystem writable: a file written and
// fsynced. It is made unnamed (O_TMPFILE) where the filesystem can, so a
// run killed at any instant leaves nothing; else it is named by the pid,
// and probes of processes that no longer exist are swept first.
func writeProbe(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	sweepProbes(dir)
	// outside the door: our own probe file, in our own directory.
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err == nil {
		f := os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed probe)"))
		_, werr := f.WriteString("atomic-selftest /var probe\n")
		return errors.Join(werr, f.Sync(), f.Close())
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("creating a probe in %s: %w", dir, err)
	}
	path := filepath.Join(dir, probePrefix+strconv.Itoa(os.Getpid()))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|unix.O_NOFOLLOW, 0o600) // outside the door: our own probe file
	if err != nil {
		return err
	}
	_, werr := f.WriteString("atomic-selftest /var probe\n")
	serr := f.Sync()
	cerr := f.Close()
	rerr := os.Remove(path)
	return errors.Join(werr, serr, cerr, rerr)
}

// sweepProbes removes the named probes of runs that were killed: those
// whose pid no longer exists. A live pid's probe may be another run's and
// is left alone; a reused pid only delays the sweep to a later run.
func sweepProbes(dir string) {
	ents, err := os.ReadDir(dir) // outside the door: the tool's own directory, where it writes its probes
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), probePrefix))
		if !strings.HasPrefix(e.Name(), probePrefix) || err != nil || pid <= 0 || !e.Type().IsRegular() {
			continue
		}
		if errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
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

// Package host owns the checks of the host itself that every other area
// stands on: the boot reached its target with no failed unit (host.boot),
// and /var is writable and persistent while /usr is read-only on an OSTree
// host (host.var).
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.boot",
		Criterion:   "C1",
		Required:    true,
		Description: "systemd reached its default target and no unit has failed; records how long the boot took",
		Timeout:     30 * time.Second,
		Applies:     needSystemd,
		Run:         checkBoot,
	})
	selftest.Register(&selftest.Check{
		ID:          "host.var",
		Criterion:   "C1",
		Required:    true,
		Description: "/var is writable and persistent; /usr is read-only on an OSTree host",
		Timeout:     30 * time.Second,
		Run:         checkVar,
	})
}

func needSystemd(_ context.Context, h *selftest.Host) string {
	if !h.SystemdBooted() {
		return "systemd is not PID 1 on this host (/run/systemd/system is missing)"
	}
	return ""
}

// checkBoot passes when the default target is active and no unit failed.
// The self-test itself runs as part of the boot's initial transaction
// (after multi-user.target), so systemd may still say "starting": the
// default target being active is what "the boot reached its target" means.
func checkBoot(ctx context.Context, t *selftest.T) {
	sd, err := t.Host.Systemd(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	m, err := sd.Manager(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	t.Detail("system_state", m.SystemState)
	target := m.DefaultTarget
	if target == "" {
		target = "multi-user.target"
	}
	u, err := sd.Unit(ctx, target)
	if err != nil {
		t.Error("%v", err)
		return
	}
	t.Evidence("default target "+target, "active", u.ActiveState)
	if u.ActiveEnterUsec > m.KernelUsec && u.ActiveEnterUsec != 0 {
		secs := float64(u.ActiveEnterUsec-m.KernelUsec) / 1e6
		t.Detail("target_reached_s", secs)
		t.Evidence("time from kernel to "+target, "", fmt.Sprintf("%.1f s", secs))
	}
	if m.Finished() {
		t.Detail("boot_finished_s", m.BootDuration().Seconds())
	}
	all, err := sd.FailedUnits(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	// The self-test's own units fail when a check fails; counting them
	// here would turn one failure into a second one on the next run.
	var failed []string
	for _, u := range all {
		if !strings.HasPrefix(u, "atomic-selftest") {
			failed = append(failed, u)
		}
	}
	t.Evidence("failed units", "none", orNone(failed))
	t.Detail("failed_units", failed)
	switch {
	case u.ActiveState != "active":
		t.Fail("the default target %s is %s, not active (system state %s)", target, u.ActiveState, m.SystemState)
	case len(failed) > 0:
		t.Fail("%d unit(s) failed: %s", len(failed), strings.Join(failed, ", "))
	default:
		t.Pass("%s reached, no failed units (system state %s)", target, m.SystemState)
	}
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// probeDir is the tool's own directory under /var, the only place it may
// write to prove /var is writable.
const probeDir = "/var/lib/atomic-selftest"

func checkVar(ctx context.Context, t *selftest.T) {
	h := t.Host
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
		t.Evidence("results of an earlier boot", "", "kept (boot "+short(lb)+")")
	}

	// Read-only /usr: on an OSTree host /usr is a read-only bind mount;
	// /run/ostree-booted says we are on one.
	if ostreeBooted(h) {
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
	if len(problems) > 0 {
		t.Fail("%s", strings.Join(problems, "; "))
		return
	}
	t.Pass("/var is writable and persistent")
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

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

package ostree

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "ostree.booted",
		Criterion:   "C1",
		Required:    true,
		Description: "a booted deployment exists and is identified; /sysroot is mounted (read-only where configured), /usr is read-only, /etc and /var are the deployment's; a composefs root is composefs's read-only overlay",
		Timeout:     30 * time.Second,
		Applies:     ostreehost.NeedOstreeBooted,
		Run:         checkBooted,
	})
}

func devIno(h *selftest.Host, p string) (ot.DevIno, error) {
	fi, err := h.Stat(p)
	if err != nil {
		return ot.DevIno{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ot.DevIno{}, fmt.Errorf("stat %s: no device and inode", p)
	}
	return ot.DevIno{Dev: uint64(st.Dev), Ino: st.Ino}, nil
}

func checkBooted(_ context.Context, t *selftest.T) {
	h := t.Host
	s, err := ostreehost.Load(h)
	if err != nil {
		t.Fail("%v", err)
		return
	}
	if p := ostreehost.Problems(s); p != "" {
		t.Evidence("sysroot problems", "none", p)
	}
	b := s.Booted
	if b == nil {
		msg := fmt.Sprintf("/run/ostree-booted exists but no deployment's directory is the running root (%s)", s.RootDevIno)
		if s.KernelArg != nil {
			msg += fmt.Sprintf("; the kernel was booted with ostree=%s (stateroot %s, boot checksum %s)", s.KernelArg.Path, s.KernelArg.OSName, record.Short(s.KernelArg.BootChecksum))
		}
		t.Fail("%s", msg)
		return
	}
	rec := ostreehost.Record(t.Host, s, b)
	t.UpdateRecord(func(r *record.Record) { r.Deployment = rec })
	t.Evidence("booted deployment", "", ostreehost.Describe(rec))
	t.Detail("booted", rec)
	var problems []string

	// The ostree= argument names stateroot and boot checksum reliably;
	// its boot serial and bootversion change with later deploys.
	if ka := s.KernelArg; ka != nil {
		seen := ka.OSName + " " + record.Short(ka.BootChecksum)
		want := b.OSName + " " + record.Short(b.BootChecksum)
		t.Evidence("kernel ostree= stateroot and boot checksum", want, seen)
		if ka.OSName != b.OSName || ka.BootChecksum != b.BootChecksum {
			problems = append(problems, fmt.Sprintf("the kernel was booted with ostree=%s, which is not the booted deployment's stateroot %s and boot checksum %s", ka.Path, b.OSName, record.Short(b.BootChecksum)))
		}
	}

	// /sysroot: mounted; read-only when the repo says [sysroot]
	// readonly=true or ostree-prepare-root recorded sysroot-ro.
	wantRO := sysrootReadonly(h, s)
	// The mount table is the running kernel's (the zero rootfs.FS reads
	// the live host; this check never runs offline), and names mount
	// points as the kernel sees them: /sysroot under the root.
	point, err := h.Files().Resolve("/sysroot")
	var mnt *mount
	if err == nil {
		mnt, err = findMount(rootfs.FS{}, "/proc/self/mountinfo", point)
	}
	switch {
	case err != nil:
		problems = append(problems, err.Error())
	case mnt == nil:
		t.Evidence("/sysroot", "mounted", "not a mount point")
		problems = append(problems, "/sysroot is not a mount point")
	default:
		seen := map[bool]string{true: "read-only", false: "read-write"}[mnt.readOnly]
		if wantRO {
			t.Evidence("/sysroot mount", "read-only ([sysroot] readonly=true)", seen)
			if !mnt.readOnly {
				problems = append(problems, "/sysroot is mounted read-write but the sysroot is configured read-only")
			}
		} else {
			t.Evidence("/sysroot mount", "mounted", seen)
		}
	}

	// /usr: read-only unless the deployment is unlocked.
	if sf, err := h.Statfs("/usr"); err != nil {
		problems = append(problems, err.Error())
	} else {
		ro := sf.Flags&unix.ST_RDONLY != 0
		seen := map[bool]string{true: "read-only", false: "read-write"}[ro]
		if b.Unlocked != "none" {
			t.Evidence("/usr mount", "writable (deployment unlocked: "+b.Unlocked+")", seen)
		} else {
			t.Evidence("/usr mount", "read-only", seen)
			if !ro {
				problems = append(problems, "/usr is mounted read-write and the deployment is not unlocked")
			}
		}
	}

	// composefs: ostree-prepare-root (src/switchroot/ostree-prepare-root.c
	// in ostreedev/ostree) mounts the deployment's composefs image as the
	// root and records it in /run/ostree-booted under the keys of
	// src/libotcore/otcore.h: "composefs" (b) when composefs was used,
	// "composefs.verity" when fs-verity was required, "composefs.signed"
	// (s) with the public key that verified the commit, and
	// "backing-root-device-inode" (tt), the deployment directory's
	// identity, by which the booted deployment was found above since /
	// itself is the composefs mount: an overlay (read-only, metacopy and
	// redirect_dir on, the erofs image as its lower layer) whose source is
	// CFS_MOUNT_SOURCE, "composefs" (libcomposefs/lcfs-mount.c in
	// containers/composefs, which ostree links). /etc and /var are bind
	// mounts from the deployment as without composefs.
	if cfs, ok := s.BootedMetadata.Bool("composefs"); ok && cfs {
		problems = append(problems, checkComposefs(t, s)...)
	}

	// /etc is the deployment's own; /var is the stateroot's, bind-mounted.
	// With transient /etc (ostree-prepare-root's etc.transient) /etc is an
	// overlay that cannot match.
	dirs := []struct{ name, path, want string }{
		{"/var", "/var", "/ostree/deploy/" + b.OSName + "/var"},
	}
	if _, transient := s.BootedMetadata["transient-etc"]; transient {
		t.Evidence("/etc", "", "transient (an overlay, not compared)")
	} else {
		dirs = append(dirs, struct{ name, path, want string }{"/etc", "/etc", fmt.Sprintf("/ostree/deploy/%s/deploy/%s/etc", b.OSName, b.Name())})
	}
	for _, c := range dirs {
		got, err1 := devIno(h, c.path)
		want, err2 := devIno(h, c.want)
		if err1 != nil || err2 != nil {
			problems = append(problems, fmt.Sprintf("comparing %s: %v", c.name, firstErr(err1, err2)))
			continue
		}
		rel := c.want
		t.Evidence(c.name, rel+" ("+want.String()+")", got.String())
		if got != want {
			problems = append(problems, fmt.Sprintf("%s is not %s (%s, want %s)", c.name, rel, got, want))
		}
	}
	t.ConcludeWith("booted "+ostreehost.Describe(rec)+", but ", problems, "booted %s; /usr read-only, /etc and /var are the deployment's", ostreehost.Describe(rec))
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func sysrootReadonly(h *selftest.Host, s *ot.Sysroot) bool {
	if ro, ok := s.BootedMetadata.Bool("sysroot-ro"); ok && ro {
		return true
	}
	data, err := h.ReadFile("/ostree/repo/config", rootfs.Config)
	if err != nil {
		return false
	}
	kf, err := ot.ParseKeyFile("/ostree/repo/config", data)
	if err != nil {
		return false
	}
	ro, _ := kf.Bool("sysroot", "readonly")
	return ro
}

type mount struct {
	point    string
	readOnly bool
	// fstype and source are the fields after mountinfo's " - ".
	fstype, source string
}

// checkComposefs checks a root ostree-prepare-root recorded as composefs:
// it is a read-only overlay with source "composefs"; fs-verity and the
// signing key are shown as recorded.
func checkComposefs(t *selftest.T, s *ot.Sysroot) []string {
	h := t.Host
	seen := "composefs"
	if v, ok := s.BootedMetadata.Bool("composefs.verity"); ok && v {
		seen += ", fs-verity required"
	}
	if k, ok := s.BootedMetadata.String("composefs.signed"); ok {
		seen += ", commit signature verified with " + k
	}
	t.Evidence("root (/run/ostree-booted)", "", seen)
	point, err := h.Files().Resolve("/")
	if err != nil {
		return []string{err.Error()}
	}
	m, err := findMount(rootfs.FS{}, "/proc/self/mountinfo", point)
	switch {
	case err != nil:
		return []string{err.Error()}
	case m == nil:
		t.Evidence("/ mount", "composefs (overlay, source composefs), read-only", "not a mount point")
		return []string{"/run/ostree-booted says composefs but / is not a mount point"}
	}
	desc := fmt.Sprintf("%s, source %s, %s", m.fstype, m.source, map[bool]string{true: "read-only", false: "read-write"}[m.readOnly])
	t.Evidence("/ mount", "overlay, source composefs, read-only", desc)
	var problems []string
	if m.fstype != "overlay" || m.source != "composefs" {
		problems = append(problems, fmt.Sprintf("/run/ostree-booted says composefs but / is %s, not a composefs overlay", desc))
	} else if !m.readOnly {
		problems = append(problems, "the composefs root / is mounted read-write")
	}
	return problems
}

// findMount returns the last (topmost) mount at point in a mountinfo file
// of files, or nil when point is not a mount point.
func findMount(files rootfs.FS, mountinfo, point string) (*mount, error) {
	data, err := files.ReadFile(mountinfo, rootfs.Kernel)
	if err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	var found *mount
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		if unescapeOctal(fields[4]) != filepath.Clean(point) {
			continue
		}
		ro := false
		for _, o := range strings.Split(fields[5], ",") {
			if o == "ro" {
				ro = true
			}
		}
		found = &mount{point: point, readOnly: ro}
		// Optional fields end at "-"; then fstype, source, super options.
		for i := 6; i+2 < len(fields); i++ {
			if fields[i] == "-" {
				found.fstype, found.source = fields[i+1], unescapeOctal(fields[i+2])
				break
			}
		}
	}
	return found, sc.Err()
}

// unescapeOctal undoes the \040-style escapes of mountinfo paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

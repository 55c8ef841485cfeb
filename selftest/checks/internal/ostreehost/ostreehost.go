// Package ostreehost is what the ostree.* and deployment.* check areas
// share: loading the host's sysroot through the pure-Go reader the same
// way for every check, and turning a deployment into the run record's
// selftest.Deployment.
package ostreehost

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// NeedOstreeBooted is the applicability test of checks that need a
// running OSTree host: ostree-prepare-root leaves /run/ostree-booted.
func NeedOstreeBooted(_ context.Context, h *selftest.RunContext) string {
	if !h.Exists("/run/ostree-booted") {
		return "not an OSTree-booted host (no /run/ostree-booted)"
	}
	return ""
}

// NeedSysroot is the applicability test of checks that only read a
// sysroot, live or offline.
func NeedSysroot(_ context.Context, h *selftest.RunContext) string {
	if fi, err := h.Stat("/ostree/deploy"); err != nil || !fi.IsDir() {
		return "not an OSTree sysroot (no /ostree/deploy)"
	}
	return ""
}

// Load reads the sysroot of h: the live one (booted and staged
// deployments included) on a host, the offline one with --sysroot.
func Load(h *selftest.Host) (*ot.Sysroot, error) {
	return ot.Load(ot.Options{Root: h.Root, Live: !h.Offline})
}

// Record converts d for the run record; s supplies the rollback
// deployment of d's stateroot, and h the start of this boot when d is the
// booted deployment.
func Record(h *selftest.Host, s *ot.Sysroot, d *ot.Deployment) *record.Deployment {
	if d == nil {
		return nil
	}
	r := &record.Deployment{
		OSName:   d.OSName,
		Checksum: d.Checksum,
		Serial:   d.Serial,
		Version:  d.Version(),
		Refspec:  d.Refspec(),
		Pinned:   d.Pinned(),
		// A container-image deployment is known by its image and the
		// manifest digest next to the checksum: the image a bootc or
		// rpm-ostree host booted.
		ImageReference: d.ImageReference(),
		ImageDigest:    d.ImageDigest(),
	}
	if d.Layered() {
		r.BaseChecksum = d.BaseChecksum()
	}
	if d.Origin != nil {
		r.LayeredPackages = d.Origin.LayeredPackages()
	}
	if d.Commit != nil {
		r.CommitTime = d.Commit.Timestamp
	}
	r.Deployed = d.Deployed
	if s != nil && d.Booted {
		if _, rb := s.QueryDeploymentsFor(d.OSName); rb != nil {
			r.Rollback = rb.OSName + "/" + rb.Name()
		}
		if h != nil && !h.Offline {
			r.BootedAt = BootTime(h)
		}
	}
	return r
}

// BootTime returns the boot's start from the btime line of proc(5)'s
// /proc/stat, or the zero time when it cannot be read.
func BootTime(h *selftest.Host) time.Time {
	data, err := h.ReadFile("/proc/stat", rootfs.Kernel)
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			if sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && sec > 0 {
				return time.Unix(sec, 0).UTC()
			}
		}
	}
	return time.Time{}
}

// Describe names a deployment the way messages do: osname
// checksum-prefix.serial (version).
func Describe(d *record.Deployment) string {
	if d == nil {
		return "none"
	}
	s := fmt.Sprintf("%s %s.%d", d.OSName, record.Short(d.Checksum), d.Serial)
	if d.Version != "" {
		s += " (" + d.Version + ")"
	}
	return s
}

// Problems summarises what could not be read, for evidence.
func Problems(s *ot.Sysroot) string {
	var l []string
	l = append(l, s.Problems...)
	for _, d := range s.Deployments {
		l = append(l, d.Problems...)
	}
	return strings.Join(l, "; ")
}

// BootFile is one file a BLS entry needs to boot: its kernel (the linux
// line) or an initramfs (an initrd line).
type BootFile struct {
	// What is "kernel" or "initramfs".
	What string
	// Path is the entry's path, relative to the boot filesystem (/boot
	// here); empty when the entry has no such line.
	Path string
	// Missing: the line is absent, or the file is not under /boot.
	Missing bool
}

// BootFiles lists the kernel and initramfs files entry e names and
// whether each is in place under /boot, read through h's door.
func BootFiles(h *selftest.Host, e *ot.BootEntry) []BootFile {
	files := make([]BootFile, 0, 1+len(e.Initrds))
	for i, p := range append([]string{e.Linux}, e.Initrds...) {
		f := BootFile{What: "initramfs", Path: p}
		if i == 0 {
			f.What = "kernel"
		}
		f.Missing = p == "" || !h.Exists("/boot/"+strings.TrimPrefix(p, "/"))
		files = append(files, f)
	}
	return files
}

// Booted loads the sysroot and returns its booted deployment, or reports
// why there is none.
func Booted(t *selftest.T) (*ot.Sysroot, *ot.Deployment) {
	s, err := Load(t.Host)
	if err != nil {
		t.Error("%v", err)
		return nil, nil
	}
	if s.Booted == nil {
		why := "not OSTree-booted (no /run/ostree-booted)"
		if s.OstreeBooted {
			why = "no deployment's directory is the running root"
		}
		if p := Problems(s); p != "" {
			why += "; " + p
		}
		t.Fail("cannot identify the booted deployment: %s", why)
		return s, nil
	}
	return s, s.Booted
}

// List joins l for a message, "none" when it is empty.
func List(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

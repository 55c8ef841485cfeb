package deployment

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/bootc"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "deployment.bootc-agrees",
		Criterion:   "C3",
		Required:    false,
		Description: "bootc's status (booted, staged, rollback: checksum, image and digest, version, rollbackQueued) agrees with the sysroot, and the run record names the booted image",
		Timeout:     60 * time.Second,
		Applies:     ostreehost.NeedOstreeBooted,
		Run:         checkBootcAgrees,
	})
}

// bootc has no D-Bus API; `bootc status --format=json --format-version=1`
// is its stable interface (docs/src/bootc-via-api.md in bootc-dev/bootc),
// decoded by the bootc package from the structs of crates/lib/src/spec.rs.
func checkBootcAgrees(ctx context.Context, t *selftest.T) {
	out, err := t.Host.Run(ctx, 45*time.Second, bootc.StatusArgv...)
	if errors.Is(err, exec.ErrNotFound) {
		t.Skip("bootc is not installed (%s not found)", bootc.StatusArgv[0])
		return
	}
	if err != nil {
		t.Fail("%s: %v", strings.Join(bootc.StatusArgv, " "), err)
		return
	}
	host, err := bootc.Parse(out)
	if err != nil {
		t.Fail("%v", err)
		return
	}
	if !host.Managed() {
		t.Skip("bootc does not manage this host (its status.booted is null)")
		return
	}
	if host.Status.Booted.Ostree == nil {
		t.Skip("the booted deployment is composefs-native (status.booted.ostree is null): there is no ostree deployment to compare")
		return
	}
	s, err := ostreehost.Load(t.Host)
	if err != nil {
		t.Error("%v", err)
		return
	}
	diffs := CompareBootc(host, s)
	if b := host.Status.Booted; b.Image != nil {
		ref, digest := b.Image.Image.String(), b.Image.ImageDigest
		t.Evidence("booted image (bootc)", "", ref+"@"+digest)
		t.UpdateRecord(func(r *record.Record) {
			// ostree.booted fills these from the origin and the commit;
			// where the commit carries no digest bootc's word is kept.
			if r.Deployment != nil && r.Deployment.ImageDigest == "" {
				r.Deployment.ImageDigest = digest
			}
			if r.Deployment != nil && r.Deployment.ImageReference == "" {
				r.Deployment.ImageReference = ref
			}
		})
	}
	t.Evidence("differences from the sysroot", "0", fmt.Sprint(len(diffs)))
	t.ConcludeWith("bootc disagrees with the sysroot: ", diffs, "bootc agrees on %s", describeBootc(host))
}

func describeBootc(h *bootc.Host) string {
	var parts []string
	for _, e := range h.Entries() {
		p := e.Role
		if e.Entry.Image != nil {
			p += " " + e.Entry.Image.Image.String() + "@" + record.Short(strings.TrimPrefix(e.Entry.Image.ImageDigest, "sha256:"))
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" (rollbackQueued %v)", h.Status.RollbackQueued)
}

// CompareBootc lists where bootc's status differs from the sysroot. It
// pairs bootc's entries with the sysroot's by the roles bootc gives them
// (crates/lib/src/status.rs get_status: staged is the staged deployment,
// rollback the first other deployment of the booted stateroot, the same
// as ostree's query_deployments_for) and compares, for each, the ostree
// stateroot, checksum and serial, the pin, the image (against the
// origin's container-image-reference), the manifest digest (against the
// commit's ostree.manifest-digest) and the version; then rollbackQueued,
// which bootc sets when the rollback sorts before the booted deployment.
func CompareBootc(h *bootc.Host, s *ot.Sysroot) []string {
	var diffs []string
	booted := s.Booted
	var staged, rollback *ot.Deployment
	if booted != nil {
		for _, d := range s.Deployments {
			if d.Staged && d.OSName == booted.OSName {
				staged = d
			}
		}
		// The rollback is the first non-booted, non-staged deployment
		// of the booted stateroot, in boot order.
		for _, d := range s.Deployments {
			if d != booted && !d.Staged && d.OSName == booted.OSName {
				rollback = d
				break
			}
		}
	}
	pairs := []struct {
		role string
		b    *bootc.BootEntry
		d    *ot.Deployment
	}{
		{"booted", h.Status.Booted, booted},
		{"staged", h.Status.Staged, staged},
		{"rollback", h.Status.Rollback, rollback},
	}
	for _, p := range pairs {
		switch {
		case p.b == nil && p.d == nil:
			continue
		case p.b == nil:
			diffs = append(diffs, fmt.Sprintf("%s: bootc has none, the sysroot %s", p.role, p.d.ID()))
			continue
		case p.d == nil:
			diffs = append(diffs, fmt.Sprintf("%s: bootc has %s, the sysroot none", p.role, entryName(p.b)))
			continue
		}
		diffs = append(diffs, compareEntry(p.role, p.b, p.d)...)
	}
	if booted != nil && rollback != nil {
		queued := rollback.Index < booted.Index
		if h.Status.RollbackQueued != queued {
			diffs = append(diffs, fmt.Sprintf("rollbackQueued: bootc says %v, the sysroot %v (rollback at index %d, booted at %d)", h.Status.RollbackQueued, queued, rollback.Index, booted.Index))
		}
	} else if h.Status.RollbackQueued {
		diffs = append(diffs, "rollbackQueued: bootc says true, the sysroot has no rollback deployment")
	}
	return diffs
}

func entryName(b *bootc.BootEntry) string {
	if b.Ostree != nil {
		return fmt.Sprintf("%s-%s.%d", b.Ostree.Stateroot, b.Ostree.Checksum, b.Ostree.DeploySerial)
	}
	if b.Image != nil {
		return b.Image.Image.String()
	}
	return "an entry"
}

func compareEntry(role string, b *bootc.BootEntry, d *ot.Deployment) []string {
	var diffs []string
	check := func(what string, bc, ours any) {
		if fmt.Sprint(bc) != fmt.Sprint(ours) {
			diffs = append(diffs, fmt.Sprintf("%s: bootc says %s %v, the sysroot %v", role, what, bc, ours))
		}
	}
	if o := b.Ostree; o != nil {
		// Older bootc left stateroot out (its fixtures of 2023 do).
		if o.Stateroot != "" {
			check("ostree.stateroot", o.Stateroot, d.OSName)
		}
		check("ostree.checksum", o.Checksum, d.Checksum)
		check("ostree.deploySerial", o.DeploySerial, d.Serial)
	}
	check("pinned", b.Pinned, d.Pinned())
	im := b.Image
	if im == nil {
		// bootc gives no image for a deployment of an ostree ref.
		if ref := d.ImageReference(); ref != "" {
			diffs = append(diffs, fmt.Sprintf("%s: bootc gives no image, the sysroot's origin follows %s", role, ref))
		}
		return diffs
	}
	if ref := d.ImageReference(); ref == "" {
		diffs = append(diffs, fmt.Sprintf("%s: bootc says image %s, the sysroot's origin has no container-image-reference (refspec %q)", role, im.Image, d.Refspec()))
	} else if ir, err := ot.ParseImageRef(ref); err != nil {
		diffs = append(diffs, fmt.Sprintf("%s: %v", role, err))
	} else {
		check("image", im.Image.String(), (bootc.ImageReference{Image: ir.Image, Transport: ir.Transport}).String())
	}
	check("imageDigest", im.ImageDigest, d.ImageDigest())
	// bootc takes the version from the image's labels, ostree-rs-ext
	// copies it to the commit's "version"; a commit without one (an
	// image without the label, or an older importer) is not a
	// disagreement.
	if im.Version != "" && d.Version() != "" {
		check("version", im.Version, d.Version())
	}
	return diffs
}

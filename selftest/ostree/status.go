package ostree

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// WriteStatus prints the deployments the way `rpm-ostree status` does: one
// block per deployment in boot order, ● marking the booted one, then
// aligned "Key: value" lines (version and commit time, base commit of a
// layered deployment, commit, layered packages, pinned, unlocked,
// staged), and what could not be read. Every value comes from the
// sysroot, so each passes through record.Printable.
func WriteStatus(w io.Writer, s *Sysroot) error {
	p := record.Printable
	var b strings.Builder
	fmt.Fprintln(&b, "Deployments:")
	if len(s.Deployments) == 0 {
		fmt.Fprintln(&b, "  none")
	}
	multi := len(s.Stateroots) > 1
	for i, d := range s.Deployments {
		if i > 0 {
			fmt.Fprintln(&b)
		}
		mark := " "
		if d.Booted {
			mark = "●"
		}
		origin := d.Refspec()
		if origin == "" {
			origin = "(no origin)"
		}
		fmt.Fprintf(&b, "%s %s\n", mark, p(originURL(d, origin)))
		kv := func(k, v string) { fmt.Fprintf(&b, "%26s: %s\n", k, p(v)) }
		if multi {
			kv("StateRoot", d.OSName)
		}
		// rpm-ostree prints a container deployment's manifest digest
		// under its image reference (rust/src/status.rs in
		// coreos/rpm-ostree: "Digest" from container-image-reference-digest).
		if dg := d.ImageDigest(); dg != "" && d.ImageReference() != "" {
			kv("Digest", dg)
		}
		if d.Commit != nil {
			v := d.Version()
			if v == "" {
				v = "(none)"
			}
			kv("Version", v+" ("+d.Commit.Timestamp.UTC().Format(time.RFC3339)+")")
		}
		if d.Layered() {
			kv("BaseCommit", d.BaseChecksum())
		}
		kv("Commit", fmt.Sprintf("%s.%d", d.Checksum, d.Serial))
		if d.Origin != nil {
			if p := d.Origin.RequestedPackages; len(p) > 0 {
				kv("LayeredPackages", strings.Join(p, " "))
			}
			if p := d.Origin.RequestedLocalPackages; len(p) > 0 {
				kv("LocalPackages", strings.Join(p, " "))
			}
			if p := d.Origin.OverrideRemove; len(p) > 0 {
				kv("RemovedBasePackages", strings.Join(p, " "))
			}
		}
		if d.Staged {
			kv("Staged", "yes")
		}
		if d.Pinned() {
			kv("Pinned", "yes")
		}
		if d.Unlocked != "" && d.Unlocked != "none" {
			kv("Unlocked", d.Unlocked)
		}
		for _, p := range d.Problems {
			kv("Problem", p)
		}
	}
	for _, e := range s.BadEntries {
		fmt.Fprintf(&b, "\nBroken boot entry: %s\n", p(e.Err))
	}
	for _, u := range s.Unreferenced {
		fmt.Fprintf(&b, "\nDeployment without a boot entry: %s\n", p(u))
	}
	for _, pr := range s.Problems {
		fmt.Fprintf(&b, "\nProblem: %s\n", p(pr))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// originURL writes the origin as rpm-ostree does: ostree:// for refs and
// commits, the container reference as is.
func originURL(d *Deployment, origin string) string {
	if d.Origin != nil && d.Origin.ContainerImageReference != "" && d.Origin.Refspec == "" && d.Origin.BaseRefspec == "" {
		return origin
	}
	if origin == "(no origin)" {
		return origin
	}
	return "ostree://" + origin
}

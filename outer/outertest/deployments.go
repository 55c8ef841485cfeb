package outertest

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// depsSig is the deployment list in order.
func (h *Host) depsSig() string {
	var b strings.Builder
	for _, d := range h.deps {
		fmt.Fprintf(&b, "%s.%d ", d.checksum, d.serial)
	}
	return b.String()
}

// deploy puts a new deployment of commit (layering packages) first and
// keeps the booted one after it, pruning the rest, as rpm-ostree does.
func (h *Host) deploy(commit, refspec string, packages []string) {
	if commit == "" {
		commit = h.booted.checksum
	}
	h.serial++
	d := &deployment{os: h.booted.os, checksum: commit, base: commit, version: h.commits[commit].version, refspec: refspec, serial: h.serial, etc: h.newEtc()}
	if len(packages) > 0 {
		d.packages = packages
		d.checksum = sha(commit + strings.Join(packages, ","))
		h.commits[d.checksum] = commitInfo{parent: commit, version: d.version}
	}
	h.files[d.originPath()] = []byte("[origin]\nrefspec=" + refspec + "\n")
	h.deps = []*deployment{d, h.booted}
}

// originPath is the deployment's origin file.
func (d *deployment) originPath() string {
	return fmt.Sprintf("/ostree/deploy/%s/deploy/%s.%d.origin", d.os, d.checksum, d.serial)
}

// upgrade deploys the head of the booted deployment's ref, as
// rpm-ostree upgrade, atomic host upgrade and ostree admin upgrade do.
func (h *Host) upgrade(stdout, stderr io.Writer) (int, bool) {
	ref := h.booted.refspec
	if _, r, ok := strings.Cut(ref, ":"); ok {
		ref = r
	}
	head, ok := h.refs[ref]
	if !ok {
		return fail(stderr, "error: Refspec '%s' not found", ref)
	}
	if h.NoUpgrade || head == h.booted.checksum {
		fmt.Fprintln(stdout, "No upgrade available.")
		return 0, false
	}
	h.deploy(head, h.booted.refspec, nil)
	return 0, false
}

// rollback makes the other deployment the default, as rpm-ostree
// rollback (rollback.cxx) and the driver's libostree script do.
func (h *Host) rollback(stderr io.Writer) (int, bool) {
	if len(h.deps) < 2 {
		return fail(stderr, "error: No rollback deployment found")
	}
	if h.deps[0] == h.booted {
		h.deps[0], h.deps[1] = h.deps[1], h.deps[0]
		return 0, false
	}
	rest := []*deployment{h.booted}
	for _, d := range h.deps {
		if d != h.booted {
			rest = append(rest, d)
		}
	}
	h.deps = rest
	return 0, false
}

// deployVersion deploys the commit of the booted ref's history with
// version v (rpm-ostree deploy, atomic host deploy).
func (h *Host) deployVersion(v string, stderr io.Writer) (int, bool) {
	ref := h.booted.refspec
	if _, r, ok := strings.Cut(ref, ":"); ok {
		ref = r
	}
	for c := h.refs[ref]; c != ""; c = h.commits[c].parent {
		if h.commits[c].version == v {
			h.deploy(c, h.booted.refspec, nil)
			return 0, false
		}
	}
	return fail(stderr, "error: Failed to find version %s", v)
}

// install layers package p on the booted deployment's base (rpm-ostree
// install, atomic host install).
func (h *Host) install(p string, stderr io.Writer) (int, bool) {
	if slices.Contains(h.booted.packages, p) {
		return fail(stderr, "error: \"%s\" is already requested", p)
	}
	h.deploy(h.booted.base, h.booted.refspec, append(append([]string{}, h.booted.packages...), p))
	return 0, false
}

// uninstall removes package p from the booted deployment's layered
// packages (rpm-ostree uninstall).
func (h *Host) uninstall(p string, stderr io.Writer) (int, bool) {
	if !slices.Contains(h.booted.packages, p) {
		return fail(stderr, "error: package \"%s\" not found in requested packages", p)
	}
	h.deploy(h.booted.base, h.booted.refspec, slices.DeleteFunc(slices.Clone(h.booted.packages), func(x string) bool { return x == p }))
	return 0, false
}

// cleanupRollback removes the rollback deployment (rpm-ostree cleanup
// --rollback): the default and the booted one stay.
func (h *Host) cleanupRollback() {
	keep := []*deployment{h.deps[0]}
	if h.booted != h.deps[0] {
		keep = append(keep, h.booted)
	}
	h.deps = keep
}

// rebase deploys the head of refspec's ref and makes it the origin
// (rpm-ostree rebase REFSPEC), keeping the layered packages.
func (h *Host) rebase(refspec string, stderr io.Writer) (int, bool) {
	ref := refspec
	if _, r, ok := strings.Cut(refspec, ":"); ok {
		ref = r
	}
	head, ok := h.refs[ref]
	if !ok {
		return fail(stderr, "error: Refspec '%s' not found", refspec)
	}
	h.deploy(head, refspec, h.booted.packages)
	return 0, false
}

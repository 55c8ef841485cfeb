package outertest

// rpm-ostree and atomic host (which delegates to rpm-ostree): the
// commands the driver's plans run, changing the simulated deployments as
// rpm-ostree does, and `rpm-ostree status --json`.

import (
	"encoding/json"
	"io"
	"strings"
)

// rpmOstree answers rpm-ostree. h.mu is held.
func (h *Host) rpmOstree(argv []string, stdout, stderr io.Writer) (int, bool) {
	switch cmd := strings.Join(argv, " "); {
	case cmd == "rpm-ostree status --json":
		h.rpmOstreeStatus(stdout)
	case cmd == "rpm-ostree reload":
	case cmd == "rpm-ostree upgrade":
		return h.upgrade(stdout, stderr)
	case cmd == "rpm-ostree rollback":
		return h.rollback(stderr)
	case len(argv) == 3 && argv[1] == "deploy":
		return h.deployVersion(argv[2], stderr)
	case len(argv) == 3 && argv[1] == "install":
		return h.install(argv[2], stderr)
	case len(argv) == 3 && argv[1] == "rebase":
		return h.rebase(argv[2], stderr)
	case len(argv) == 3 && argv[1] == "uninstall":
		return h.uninstall(argv[2], stderr)
	case cmd == "rpm-ostree cleanup --rollback":
		h.cleanupRollback()
	default:
		return notFound(stderr, cmd)
	}
	return 0, false
}

// atomicHost answers `atomic host upgrade|rollback|deploy V|install P`.
// h.mu is held.
func (h *Host) atomicHost(argv []string, stdout, stderr io.Writer) (int, bool) {
	if len(argv) < 3 || argv[1] != "host" {
		return notFound(stderr, strings.Join(argv, " "))
	}
	last := argv[len(argv)-1]
	switch argv[2] {
	case "upgrade":
		return h.upgrade(stdout, stderr)
	case "rollback":
		return h.rollback(stderr)
	case "deploy":
		return h.deployVersion(last, stderr)
	case "install":
		return h.install(last, stderr)
	}
	return notFound(stderr, strings.Join(argv, " "))
}
func (h *Host) rpmOstreeStatus(w io.Writer) {
	// Written as rpm-ostree names its fields, independently of the
	// driver's parser, so a mismatch between the two shows.
	var deps []map[string]any
	for _, d := range h.deps {
		x := map[string]any{"osname": d.os, "checksum": d.checksum, "serial": d.serial, "version": d.version,
			"origin": d.refspec, "booted": d == h.booted, "packages": d.packages}
		if len(d.packages) > 0 {
			x["base-checksum"] = d.base
		}
		deps = append(deps, x)
	}
	json.NewEncoder(w).Encode(map[string]any{"deployments": deps, "transaction": nil})
}

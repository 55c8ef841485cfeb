package outertest

// ostree: the commands of the driver's ostree plan and upgrade source
// (admin status, upgrade, deploy, set-origin, undeploy; init, config,
// commit, log, ls of its source repository) in ostree 2022.7's output
// formats, and the libostree rollback script the plan runs with
// /usr/bin/python3.

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ostree answers ostree and the rollback script. h.mu is held.
func (h *Host) ostree(argv []string, stdout, stderr io.Writer) (int, bool) {
	cmd := strings.Join(argv[:min(len(argv), 3)], " ")
	switch {
	case argv[0] == "/usr/bin/python3" && len(argv) > 1 && argv[1] == "-c": // the ostree rollback script
		return h.rollback(stderr)
	case len(argv) < 2:
		return notFound(stderr, argv[0])
	case cmd == "ostree admin status":
		for _, d := range h.deps {
			mark := " "
			if d == h.booted {
				mark = "*"
			}
			fmt.Fprintf(stdout, "%s %s %s.%d\n    Version: %s\n    origin refspec: %s\n", mark, d.os, d.checksum, d.serial, d.version, d.refspec)
		}
	case argv[1] == "init" || argv[1] == "config":
		// The driver's source repository: the simulated host keeps one
		// set of refs and commits for all repositories.
	case argv[1] == "ls" && len(argv) == 7 && argv[3] == "-d" && argv[4] == "-X":
		// ostree ls -d -X COMMIT DIR, as ostree 2022.7 prints a directory
		// (src/ostree/ot-builtin-ls.c): every directory of the simulated
		// trees is 0755 root with no xattrs.
		if _, ok := h.commits[argv[5]]; !ok {
			return fail(stderr, "error: Refspec '%s' not found", argv[5])
		}
		fmt.Fprintf(stdout, "d00755 0 0      0 { @a(ayay) [] } %s\n", argv[6])
	case argv[1] == "log":
		c, ok := h.refs[argv[len(argv)-1]]
		if !ok {
			return fail(stderr, "error: Refspec '%s' not found", argv[len(argv)-1])
		}
		for ; c != ""; c = h.commits[c].parent {
			fmt.Fprintf(stdout, "commit %s\n", c)
			if p := h.commits[c].parent; p != "" {
				fmt.Fprintf(stdout, "Parent:  %s\n", p)
			}
			fmt.Fprintf(stdout, "Date:  2018-05-15 00:00:00 +0000\nVersion: %s\n\n", h.commits[c].version)
		}
	case argv[1] == "commit":
		return h.commit(argv, stdout, stderr)
	case cmd == "ostree admin upgrade":
		return h.upgrade(stdout, stderr)
	case cmd == "ostree admin set-origin" && len(argv) == 7:
		// ostree admin set-origin --set=gpg-verify=false REMOTE URL
		// BRANCH: a fresh origin for the booted deployment; the remote is
		// the driver's source repository, whose branches the simulated
		// host keeps with its local refs.
		if argv[3] != "--set=gpg-verify=false" || argv[5] != "file:///var/lib/atomic-selftest-outer/repo" {
			return fail(stderr, "set-origin: unexpected arguments %q", argv[3:])
		}
		if _, ok := h.refs[argv[6]]; !ok {
			return fail(stderr, "error: Refspec '%s' not found", argv[6])
		}
		d := h.booted
		d.refspec = argv[4] + ":" + argv[6]
		h.files[d.originPath()] = []byte("[origin]\nrefspec=" + d.refspec + "\n")
	case cmd == "ostree admin undeploy" && len(argv) == 4:
		i, err := strconv.Atoi(argv[3])
		if err != nil || i < 0 || i >= len(h.deps) || h.deps[i] == h.booted {
			return fail(stderr, "error: Cannot undeploy index %s", argv[3])
		}
		h.deps = slices.Delete(h.deps, i, i+1)
	case cmd == "ostree admin deploy" && len(argv) > 3:
		c := argv[3]
		if _, ok := h.commits[c]; !ok {
			return fail(stderr, "error: Refspec '%s' not found", c)
		}
		h.deploy(c, c, nil)
	default:
		return notFound(stderr, strings.Join(argv, " "))
	}
	return 0, false
}

// commit is `ostree commit --repo= --branch= --parent= --tree=ref=BASE
// --tree=dir=DIR --add-metadata-string=version=V`: a new commit of BASE
// on the branch.
func (h *Host) commit(argv []string, stdout, stderr io.Writer) (int, bool) {
	var ref, parent, base, version string
	for _, a := range argv[2:] {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "--repo":
			if h.ReadOnlySysroot && (strings.HasPrefix(v, "/ostree/") || strings.HasPrefix(v, "/sysroot/")) {
				return fail(stderr, "error: Writing content object: Read-only file system")
			}
		case "--branch":
			ref = v
		case "--parent":
			parent = v
		case "--tree":
			if r, ok := strings.CutPrefix(v, "ref="); ok {
				base = r
			}
		case "--add-metadata-string":
			version = strings.TrimPrefix(v, "version=")
		}
	}
	if _, ok := h.commits[base]; !ok {
		return fail(stderr, "error: Refspec '%s' not found", base)
	}
	c := sha(h.Name + ref + version + parent)
	h.commits[c] = commitInfo{parent: parent, version: version, base: base}
	h.refs[ref] = c
	fmt.Fprintln(stdout, c)
	return 0, false
}

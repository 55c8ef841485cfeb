package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.tree",
		Criterion:   "C1",
		Required:    true,
		Description: "the top-level directories of the booted tree and of the deployment the next boot boots (/, /usr, /usr/bin, /usr/lib, /etc, /var, /tmp, ...) are root's, searchable by everyone and writable only by root (/tmp 1777), before anyone reboots into a tree that would not start its daemons",
		Timeout:     30 * time.Second,
		Offline:     true,
		Run:         checkTree,
	})
}

// treeDirs are the directories every unprivileged daemon walks through:
// one that others cannot search (an upgrade whose / was 0700 left
// systemd-networkd, which runs as systemd-network, failing on every
// start) or that others can write (anyone could replace what root runs)
// breaks the host. Fedora's / is 0555 and Debian's 0755: both pass. The
// optional ones are checked where the tree has them.
var treeDirs = []struct {
	path     string
	optional bool
}{
	{"/", false}, {"/usr", false}, {"/usr/bin", false}, {"/usr/lib", false},
	{"/usr/sbin", true}, {"/usr/share", true}, {"/usr/lib64", true}, {"/var", true},
}

// checkTree judges the tree at the host's root (the booted deployment,
// or a mounted image under --sysroot) and, where the host is an OSTree
// sysroot, the deployment a reboot would boot, so the run after a
// deployment change fails before the reboot. Under --sysroot on a
// physical sysroot (no /usr at its root), every deployment is judged.
func checkTree(_ context.Context, t *selftest.T) {
	h := t.Host
	var problems []string
	judged := 0
	judge := func(name, root string) {
		judged++
		p := treeProblems(h, root)
		if len(p) == 0 {
			t.Evidence(name, "root's, searchable by all, writable only by root; /tmp 1777", "yes")
			return
		}
		t.Evidence(name, "root's, searchable by all, writable only by root; /tmp 1777", strings.Join(p, "; "))
		problems = append(problems, name+": "+strings.Join(p, "; "))
	}
	hasUsr := h.Exists("/usr")
	if hasUsr {
		judge("this tree", "/")
	}
	if s, err := ostreehost.Load(h); err == nil && len(s.Deployments) > 0 {
		switch {
		case !hasUsr:
			for _, d := range s.Deployments {
				judge("deployment "+describe(d), deploymentRoot(d))
			}
		case s.Booted != nil:
			next := s.Staged
			if next == nil {
				next = s.Default()
			}
			if next != nil && next != s.Booted {
				judge("pending deployment "+describe(next), deploymentRoot(next))
			}
		}
	}
	if judged == 0 {
		t.Skip("no tree here: no /usr and no OSTree deployment")
		return
	}
	t.Conclude(problems, "the top-level directories of %d tree(s) are root's, searchable by all and writable only by root", judged)
}

func deploymentRoot(d *ot.Deployment) string {
	return path.Join("/ostree/deploy", d.OSName, "deploy", d.Name())
}

func describe(d *ot.Deployment) string {
	name := d.OSName + " " + record.Short(d.Checksum) + fmt.Sprintf(".%d", d.Serial)
	if v := d.Version(); v != "" {
		name += " (" + v + ")"
	}
	return name
}

// treeProblems lists what is wrong with the top-level directories of the
// tree at root (a path inside the host's root).
func treeProblems(h *selftest.Host, root string) []string {
	var problems []string
	for _, d := range treeDirs {
		problems = append(problems, dirProblem(h, root, d.path, d.optional, false)...)
	}
	// A deployment holds the default /etc in /usr/etc until ostree merges
	// it (a staged deployment only at shutdown).
	if h.Exists(path.Join(root, "etc")) {
		problems = append(problems, dirProblem(h, root, "/etc", false, false)...)
	} else {
		problems = append(problems, dirProblem(h, root, "/usr/etc", false, false)...)
	}
	problems = append(problems, dirProblem(h, root, "/tmp", true, true)...)
	return problems
}

// dirProblem judges one directory: root's (uid and gid 0), searchable and
// readable by others, and not writable by group or others; with sticky, a
// world-writable directory with the sticky bit (/tmp: 1777).
func dirProblem(h *selftest.Host, root, dir string, optional, sticky bool) []string {
	fi, err := h.Stat(path.Join(root, dir))
	if err != nil {
		if optional && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return []string{fmt.Sprintf("%s: %v", dir, err)}
	}
	if !fi.IsDir() {
		return []string{fmt.Sprintf("%s is not a directory (%s)", dir, fi.Mode().Type())}
	}
	mode := fi.Mode()
	perm := uint32(mode.Perm())
	if mode&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	owner := "unknown owner"
	root0 := false
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		owner = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
		root0 = st.Uid == 0 && st.Gid == 0
	}
	var why []string
	if !root0 {
		why = append(why, "owner "+owner+", want 0:0")
	}
	if sticky {
		if perm != 0o1777 {
			why = append(why, fmt.Sprintf("mode %04o, want 1777", perm))
		}
	} else {
		if perm&0o005 != 0o005 {
			why = append(why, fmt.Sprintf("mode %04o: others cannot read and search it", perm))
		}
		if perm&0o022 != 0 {
			why = append(why, fmt.Sprintf("mode %04o: writable by group or others", perm))
		}
	}
	if len(why) == 0 {
		return nil
	}
	return []string{dir + ": " + strings.Join(why, ", ")}
}

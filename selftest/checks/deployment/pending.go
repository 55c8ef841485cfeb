package deployment

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "deployment.pending",
		Criterion:   "C3",
		Required:    false,
		Description: "names what the next boot boots when it is not the booted deployment (a staged deployment, or a new default: upgrade, rollback, deploy or layering pending), checks that its kernel and initramfs are in place, and runs every offline check that judges a tree (storage.config, host.tree, host.rpmdb) against its checked-out tree and merged /etc, before anyone reboots into it",
		// The offline checks against the pending tree run inside it:
		// host.rpmdb alone may take 90 s.
		Timeout: 3 * time.Minute,
		Applies: ostreehost.NeedOstreeBooted,
		Run:     checkPending,
	})
}

// checkPending judges the deployment a reboot would boot: rpm-ostree's
// and bootc's staged deployment (finalized at shutdown) or else the first
// in boot order, against the booted one. The run after a deployment
// change (atomic-selftest-deployment.service) is where it says something.
func checkPending(ctx context.Context, t *selftest.T) {
	s, b := ostreehost.Booted(t)
	if b == nil {
		return
	}
	cur := ostreehost.Record(t.Host, s, b)
	t.Evidence("booted", "", ostreehost.Describe(cur))
	next, how := s.Staged, "staged"
	if next == nil {
		next, how = s.Default(), "the new default"
	}
	if next == nil || next == b {
		t.Detail("pending", "none")
		t.Pass("nothing pending: the next boot boots the booted %s", ostreehost.Describe(cur))
		return
	}
	nxt := ostreehost.Record(t.Host, s, next)
	// The booted deployment as the last boot and the pending one as the
	// next: the same classification the next boot's run will make.
	tr := Classify(cur, nxt)
	t.Evidence("pending", "", ostreehost.Describe(nxt)+" ("+how+")")
	t.Detail("pending", tr.Kind)
	name := nxt.Version
	if name == "" {
		name = record.Short(nxt.Checksum)
	}
	if missing := missingBootFiles(t.Host, next); len(missing) > 0 {
		t.Fail("%s to %s pending (%s), but it cannot boot: %s", tr.Kind, name, how, ostreehost.List(missing))
		return
	}
	// It boots: would what it ships work? The offline checks judge its
	// tree now, before anyone reboots into it.
	v, err := judgeTree(ctx, t, next)
	if err != nil {
		t.Error("%s to %s pending (%s), but %v", tr.Kind, name, how, err)
		return
	}
	v.record(t, treeDir(next))
	if len(v.Problems) > 0 {
		t.Fail("%s to %s pending (%s), but its tree fails offline checks: %s", tr.Kind, name, how, strings.Join(v.Problems, "; "))
		return
	}
	t.Evidence("as the next boot will see it", "", tr.Reason)
	t.Pass("%s to %s pending (%s): the next boot boots %s instead of the booted %s; its tree passes %d offline checks", tr.Kind, name, how, ostreehost.Describe(nxt), ostreehost.Describe(cur), record.Summarise(v.Results).Passed)
}

// missingBootFiles lists the kernel and initramfs a reboot into d needs
// that are not there: the files its BLS entry names under /boot, or, for
// a staged deployment (which gets its entry at shutdown), the kernel and
// initramfs in its tree where ostree takes them from
// (/usr/lib/modules/KVER/vmlinuz and initramfs.img).
func missingBootFiles(h *selftest.Host, d *ot.Deployment) []string {
	var missing []string
	if d.Entry != nil {
		for _, f := range ostreehost.BootFiles(h, d.Entry) {
			if f.Path != "" && f.Missing {
				missing = append(missing, fmt.Sprintf("%s (entry %s)", filepath.Join("/boot", f.Path), d.Entry.File))
			}
		}
		if d.Entry.Linux == "" {
			missing = append(missing, "a kernel: entry "+d.Entry.File+" has no linux line")
		}
		return missing
	}
	// The deployment's tree as a host path (d.Dir carries the root prefix).
	modules := path.Join(treeDir(d), "usr/lib/modules")
	kvers, _ := h.ReadDir(modules)
	for _, name := range []string{"vmlinuz", "initramfs.img"} {
		found := false
		for _, k := range kvers {
			if h.Exists(path.Join(modules, k.Name(), name)) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, "/usr/lib/modules/*/"+name+" in "+d.Name())
		}
	}
	return missing
}

// treeChecks is where the checks judged against a pending tree come
// from: the registry every area registers into (tests may swap it).
var treeChecks = selftest.Default

// treeMargin is the part of deployment.pending's own time kept back from
// the run of the tree checks, to record their verdicts after it.
const treeMargin = 5 * time.Second

// treeDir is the host path of deployment d's checked-out tree. Its /etc
// is the merged one: ostree writes it when it deploys (and, for a staged
// deployment, merges it again at shutdown from the /etc it booted with).
func treeDir(d *ot.Deployment) string {
	return fmt.Sprintf("/ostree/deploy/%s/deploy/%s", d.OSName, d.Name())
}

// treeVerdicts is what the offline checks said of a pending tree.
type treeVerdicts struct {
	// Problems are the required checks that did not pass, as
	// "id status: message" (the message names the file).
	Problems []string
	// Results are every check's result, by id.
	Results []record.Result
}

// judgeTree runs, against the checked-out tree of d, every check that
// can judge a root given by path (Offline) and does not judge what the
// host keeps outside the tree (HostState): storage.config, host.tree,
// host.rpmdb and the site's, configured as for this run (disabled and
// demoted checks stay so). The tree is a host of its own whose root is
// the deployment's directory resolved inside this host's root, so every
// read is bounded and no link in the tree leads out of it; nothing of
// the running system is asked (Offline).
func judgeTree(ctx context.Context, t *selftest.T, d *ot.Deployment) (*treeVerdicts, error) {
	p := treeDir(d)
	if fi, err := t.Host.Stat(p); err != nil {
		return nil, fmt.Errorf("its tree %s: %w", p, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("its tree %s is not a directory", p)
	}
	dir, err := t.Host.Files().Resolve(p)
	if err != nil {
		return nil, fmt.Errorf("its tree %s: %w", p, err)
	}
	h := selftest.NewHost(dir)
	h.Offline = true
	h.Commands = t.Host.Commands
	rc := selftest.NewRunContext(h, t.Config)
	rc.Version, rc.Trigger, rc.ProbeBinary = t.Version, t.Trigger, t.ProbeBinary
	// The site's check.d is found in the pending tree, as its boot
	// would find it; a site check runs only where it is Offline.
	reg, _ := treeChecks.ForRun(rc)
	var checks []*selftest.Check
	for _, c := range reg.All() {
		if c.Offline && !c.HostState {
			checks = append(checks, c)
		}
	}
	r := selftest.NewRunner(rc, checks)
	r.Parallel = 2
	if dl, ok := ctx.Deadline(); ok {
		r.RunTimeout = time.Until(dl) - treeMargin
		if r.RunTimeout <= 0 {
			return nil, fmt.Errorf("no time left to judge its tree %s", p)
		}
	}
	var rec record.Record
	r.Run(ctx, &rec)
	v := &treeVerdicts{Results: rec.Checks}
	sort.Slice(v.Results, func(i, j int) bool { return v.Results[i].ID < v.Results[j].ID })
	for _, res := range v.Results {
		if res.Required && res.Status.Bad() {
			v.Problems = append(v.Problems, fmt.Sprintf("%s %s: %s", res.ID, res.Status, res.Message))
		}
	}
	return v, nil
}

// record puts the verdicts into deployment.pending's result: one
// evidence line per check and a detail of every status by id.
func (v *treeVerdicts) record(t *selftest.T, dir string) {
	statuses := map[string]string{}
	for _, res := range v.Results {
		statuses[res.ID] = string(res.Status)
		kind := "wanted"
		if res.Required {
			kind = "required"
		}
		t.Evidence(fmt.Sprintf("%s in %s (%s)", res.ID, dir, kind), "", fmt.Sprintf("%s: %s", res.Status, res.Message))
	}
	t.Detail("tree", dir)
	t.Detail("tree_checks", statuses)
}

package deployment

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
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
		Description: "names what the next boot boots when it is not the booted deployment (a staged deployment, or a new default: upgrade, rollback, deploy or layering pending) and checks that its kernel and initramfs are in place, before anyone reboots into it",
		Timeout:     30 * time.Second,
		Applies:     ostreehost.NeedOstreeBooted,
		Run:         checkPending,
	})
}

// checkPending judges the deployment a reboot would boot: rpm-ostree's
// and bootc's staged deployment (finalized at shutdown) or else the first
// in boot order, against the booted one. The run after a deployment
// change (atomic-selftest-deployment.service) is where it says something.
func checkPending(_ context.Context, t *selftest.T) {
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
	t.Evidence("as the next boot will see it", "", tr.Reason)
	t.Pass("%s to %s pending (%s): the next boot boots %s instead of the booted %s", tr.Kind, name, how, ostreehost.Describe(nxt), ostreehost.Describe(cur))
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
	modules := fmt.Sprintf("/ostree/deploy/%s/deploy/%s/usr/lib/modules", d.OSName, d.Name())
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

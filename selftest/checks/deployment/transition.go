package deployment

import (
	"context"
	"fmt"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "deployment.transition",
		Criterion:   "C3",
		Required:    false,
		Description: "classifies the change of booted deployment since the last boot (first boot, same, upgrade, rollback, deploy, layering), names a rollback atomic-selftest ordered, and fails on a fallback (the bootloader started another entry than the default)",
		Timeout:     30 * time.Second,
		Applies:     ostreehost.NeedOstreeBooted,
		Run:         checkTransition,
	})
}

func checkTransition(_ context.Context, t *selftest.T) {
	s, b := ostreehost.Booted(t)
	if b == nil {
		return
	}
	cur := ostreehost.Record(t.Host, s, b)
	tr := Classify(t.History.LastDeployment, cur)
	if !Attribute(tr, t.History.LastActionRecord, t.History.LastAction) {
		if def, loaderAt := defaultEntry(t.Host, s, b); def != nil {
			Fallback(tr, ostreehost.Record(t.Host, s, def))
			t.Evidence("bootloader configuration", "/boot/loader", "written "+loaderAt.Format(time.RFC3339)+", before this boot started "+cur.BootedAt.Format(time.RFC3339))
		}
	}
	t.UpdateRecord(func(r *record.Record) {
		r.Deployment = cur
		r.Transition = tr
	})
	t.Evidence("last boot", "", ostreehost.Describe(tr.From))
	t.Evidence("this boot", "", ostreehost.Describe(cur))
	if tr.Expected != nil {
		t.Evidence("default entry", "", ostreehost.Describe(tr.Expected))
	}
	t.Detail("transition", tr.Kind)
	switch {
	case tr.Kind == record.TransitionFallback:
		// The new deployment never came up (or a person picked another
		// entry): nobody may miss it (greenboot issue #200).
		t.Fail("%s: %s", tr.Kind, tr.Reason)
	case tr.By != "":
		t.Detail("by", tr.By)
		t.Pass("%s", tr.Reason)
	default:
		t.Pass("%s: %s", tr.Kind, tr.Reason)
	}
}

// Attribute makes tr the rollback atomic-selftest ordered when the last
// boot's health action h, saved in the run record id, rolled back to the
// deployment tr goes to, and reports whether it did. Any other rollback
// stays a manual one.
func Attribute(tr *record.Transition, id string, h *record.Health) bool {
	if h == nil || h.Action != record.HealthRollback || !same(h.To, tr.To) {
		return false
	}
	tr.Kind, tr.By, tr.ActionRecord = record.TransitionRollback, record.TransitionByAtomicSelftest, id
	if tr.From == nil {
		tr.From = h.From
	}
	tr.Reason = fmt.Sprintf("rollback by %s (record %s): %s", record.TransitionByAtomicSelftest, id, h.Failures())
	return true
}

// Fallback makes tr a fallback: the booted deployment tr.To is not def,
// the default boot entry. It is a kind of transition, not a check of its
// own: a boot has one Transition in its record, and a fallback replaces
// what Classify would have called it (a "rollback", a "same"); a second
// check would have to overwrite this one's record and run after it.
func Fallback(tr *record.Transition, def *record.Deployment) {
	tr.Kind, tr.Expected = record.TransitionFallback, def
	tr.Reason = fmt.Sprintf("the bootloader started %s, the default entry is %s", tr.To.Label(), def.Label())
}

// defaultEntry returns the default boot entry's deployment and when the
// bootloader configuration was written, when this boot did not start it:
// b is not the first deployment of the bootloader configuration (the
// staged one, not in it yet, aside), and that configuration, the
// /boot/loader link ostree swaps on every change, was written before
// this boot started (btime). A configuration written during this boot
// (an rpm-ostree rollback, deploy or cleanup, or a health rollback before
// its reboot) says nothing about what the bootloader chose: no fallback
// is claimed then.
func defaultEntry(h *selftest.Host, s *ot.Sysroot, b *ot.Deployment) (*ot.Deployment, time.Time) {
	var def *ot.Deployment
	for _, d := range s.Deployments {
		if !d.Staged {
			def = d
			break
		}
	}
	if def == nil || def == b || h.Offline {
		return nil, time.Time{}
	}
	start := ostreehost.BootTime(h)
	fi, err := h.Lstat("/boot/loader")
	if err != nil || start.IsZero() || fi.ModTime().After(start) {
		return nil, time.Time{}
	}
	return def, fi.ModTime().UTC()
}

// same reports whether a and b name the same deployment.
func same(a, b *record.Deployment) bool {
	return a != nil && b != nil && a.OSName == b.OSName && a.Checksum == b.Checksum && a.Serial == b.Serial
}

// Classify names the change from prev (the booted deployment of the last
// boot, nil on a first boot) to cur.
func Classify(prev, cur *record.Deployment) *record.Transition {
	tr := &record.Transition{From: prev, To: cur}
	switch {
	case prev == nil:
		tr.Kind, tr.Reason = record.TransitionFirstBoot, "no deployment recorded by an earlier boot"
	case same(prev, cur):
		tr.Kind, tr.Reason = record.TransitionSame, "booted the same deployment as last boot: "+ostreehost.Describe(cur)
	case prev.Rollback != "" && prev.Rollback == cur.OSName+"/"+fmt.Sprintf("%s.%d", cur.Checksum, cur.Serial):
		tr.Kind, tr.Reason = record.TransitionRollback, "booted the last boot's rollback deployment "+ostreehost.Describe(cur)
	case !prev.BootedAt.IsZero() && !cur.Deployed.IsZero() && cur.Deployed.Before(prev.BootedAt):
		// Not a new deployment: it was written before the last boot
		// started, so booting it is a rollback, even when the deployments
		// were reordered after the last boot's record was saved.
		tr.Kind = record.TransitionRollback
		tr.Reason = fmt.Sprintf("booted %s, deployed %s, before the last boot (of %s) started %s", ostreehost.Describe(cur), cur.Deployed.Format(time.RFC3339), ostreehost.Describe(prev), prev.BootedAt.Format(time.RFC3339))
	case prev.OSName == cur.OSName && base(prev) == base(cur):
		tr.Kind = record.TransitionLayering
		tr.Reason = fmt.Sprintf("same base %s, layered packages %s -> %s", record.Short(base(cur)), ostreehost.List(prev.LayeredPackages), ostreehost.List(cur.LayeredPackages))
	default:
		switch newer(cur, prev) {
		case 1:
			tr.Kind = record.TransitionUpgrade
			tr.Reason = fmt.Sprintf("%s -> %s: newer commit", ostreehost.Describe(prev), ostreehost.Describe(cur))
		case -1:
			tr.Kind = record.TransitionDeploy
			tr.Reason = fmt.Sprintf("%s -> %s: deploy of an older commit", ostreehost.Describe(prev), ostreehost.Describe(cur))
		default:
			tr.Kind = record.TransitionDeploy
			tr.Reason = fmt.Sprintf("%s -> %s: a different commit of the same age", ostreehost.Describe(prev), ostreehost.Describe(cur))
		}
	}
	return tr
}

func base(d *record.Deployment) string {
	if d.BaseChecksum != "" {
		return d.BaseChecksum
	}
	return d.Checksum
}

// newer compares commit times, then versions with strverscmp semantics
// (the order ostree itself gives versions).
func newer(a, b *record.Deployment) int {
	if !a.CommitTime.IsZero() && !b.CommitTime.IsZero() && !a.CommitTime.Equal(b.CommitTime) {
		if a.CommitTime.After(b.CommitTime) {
			return 1
		}
		return -1
	}
	if a.Version != "" && b.Version != "" {
		return ot.CompareVersions(a.Version, b.Version)
	}
	return 0
}

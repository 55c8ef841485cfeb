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
		Description: "classifies the change of booted deployment since the last boot (first boot, same, upgrade, rollback, deploy, layering) and records it",
		Timeout:     30 * time.Second,
		Applies:     ostreehost.NeedOstreeBooted,
		Run:         checkTransition,
	})
}

func checkTransition(_ context.Context, t *selftest.T) {
	s, b := booted(t)
	if b == nil {
		return
	}
	cur := ostreehost.Record(t.Host, s, b)
	tr := Classify(t.Host.History.LastDeployment, cur)
	t.UpdateRecord(func(r *record.Record) {
		r.Deployment = cur
		r.Transition = tr
	})
	t.Evidence("last boot", "", ostreehost.Describe(tr.From))
	t.Evidence("this boot", "", ostreehost.Describe(cur))
	t.Detail("transition", tr.Kind)
	t.Pass("%s: %s", tr.Kind, tr.Reason)
}

// Classify names the change from prev (the booted deployment of the last
// boot, nil on a first boot) to cur.
func Classify(prev, cur *record.Deployment) *record.Transition {
	tr := &record.Transition{From: prev, To: cur}
	switch {
	case prev == nil:
		tr.Kind, tr.Reason = record.TransitionFirstBoot, "no deployment recorded by an earlier boot"
	case prev.OSName == cur.OSName && prev.Checksum == cur.Checksum && prev.Serial == cur.Serial:
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
		tr.Reason = fmt.Sprintf("same base %s, layered packages %s -> %s", record.Short(base(cur)), list(prev.LayeredPackages), list(cur.LayeredPackages))
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

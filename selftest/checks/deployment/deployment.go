// Package deployment owns the checks of C3-C6, which the outer driver
// proves by changing the deployment and rebooting: the booted deployment
// matches the expectation left in expect.json (deployment.expected), the
// change since the last boot is classified as first boot, same, upgrade,
// rollback, deploy or layering change (deployment.transition), and
// rpm-ostree's own view over D-Bus (org.projectatomic.rpmostree1) agrees
// with the sysroot reader (deployment.rpmostree-agrees).
package deployment

import (
	"context"
	"errors"
	"fmt"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"os/exec"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "deployment.expected",
		Criterion:   "C3",
		Required:    true,
		Description: "the booted deployment matches the expectation the outer driver left (checksum, version or refspec; layered and absent packages) for C3-C6",
		Timeout:     2 * time.Minute,
		Applies:     needExpectation,
		Run:         checkExpected,
	})
	selftest.Register(&selftest.Check{
		ID:          "deployment.transition",
		Criterion:   "C3",
		Required:    false,
		Description: "classifies the change of booted deployment since the last boot (first boot, same, upgrade, rollback, deploy, layering) and records it",
		Timeout:     30 * time.Second,
		Applies:     ostreehost.NeedOstreeBooted,
		Run:         checkTransition,
	})
	selftest.Register(&selftest.Check{
		ID:          "deployment.rpmostree-agrees",
		Criterion:   "C3",
		Required:    false,
		Description: "rpm-ostree's D-Bus view of the deployments (booted, checksums, order, packages) agrees with the sysroot",
		Timeout:     30 * time.Second,
		Applies:     ostreehost.NeedOstreeBooted,
		Run:         checkRpmOstreeAgrees,
	})
}

// needExpectation: an expectation on a host that is not OSTree-booted is a
// failure of the expectation, so only the sysroot is required here.
func needExpectation(ctx context.Context, h *selftest.Host) string {
	if h.History.Expectation == nil {
		return "no expectation left for this boot (atomic-selftest expect)"
	}
	return ostreehost.NeedSysroot(ctx, h)
}

// booted loads the sysroot and returns its booted deployment, or reports
// why there is none.
func booted(t *selftest.T) (*ot.Sysroot, *ot.Deployment) {
	s, err := ostreehost.Load(t.Host)
	if err != nil {
		t.Error("%v", err)
		return nil, nil
	}
	if s.Booted == nil {
		why := "not OSTree-booted (no /run/ostree-booted)"
		if s.OstreeBooted {
			why = "no deployment's directory is the running root"
		}
		if p := ostreehost.Problems(s); p != "" {
			why += "; " + p
		}
		t.Fail("cannot identify the booted deployment: %s", why)
		return s, nil
	}
	return s, s.Booted
}

func checkExpected(ctx context.Context, t *selftest.T) {
	ex := t.Host.History.Expectation
	t.UpdateRecord(func(r *record.Record) { r.Expectation = ex })
	s, b := booted(t)
	if b == nil {
		return
	}
	rec := ostreehost.Record(t.Host, s, b)
	t.UpdateRecord(func(r *record.Record) { r.Deployment = rec })
	var diffs []string
	if ex.Checksum != "" {
		t.Evidence("checksum", ex.Checksum, b.Checksum)
		if !strings.HasPrefix(b.Checksum, ex.Checksum) {
			diffs = append(diffs, fmt.Sprintf("booted %s (%s), expected checksum %s", ostreehost.Short(b.Checksum), b.Version(), ex.Checksum))
		}
	}
	if ex.Version != "" {
		t.Evidence("version", ex.Version, b.Version())
		if b.Version() != ex.Version {
			diffs = append(diffs, fmt.Sprintf("booted version %q (%s), expected %q", b.Version(), ostreehost.Short(b.Checksum), ex.Version))
		}
	}
	if ex.Refspec != "" {
		t.Evidence("origin refspec", ex.Refspec, b.Refspec())
		if b.Refspec() != ex.Refspec {
			diffs = append(diffs, fmt.Sprintf("booted deployment follows %q, expected %q", b.Refspec(), ex.Refspec))
		}
	}
	layered := b.Origin.LayeredPackages()
	rpm := rpmQuery(ctx, t)
	for _, p := range ex.Packages {
		inOrigin := hasPackage(layered, p)
		installed, how := rpm(p)
		t.Evidence("package "+p, "layered and installed", fmt.Sprintf("origin: %s; rpm: %s", yesNo(inOrigin, "layered", "not layered"), how))
		if !inOrigin {
			diffs = append(diffs, fmt.Sprintf("package %s is not layered in the origin (layered: %s)", p, list(layered)))
		}
		if installed == no {
			diffs = append(diffs, fmt.Sprintf("package %s is not in the rpm database", p))
		}
	}
	for _, p := range ex.AbsentPackages {
		inOrigin := hasPackage(layered, p)
		installed, how := rpm(p)
		t.Evidence("package "+p, "absent", fmt.Sprintf("origin: %s; rpm: %s", yesNo(inOrigin, "layered", "not layered"), how))
		if inOrigin {
			diffs = append(diffs, fmt.Sprintf("package %s is still layered in the origin", p))
		}
		if installed == yes {
			diffs = append(diffs, fmt.Sprintf("package %s is still in the rpm database", p))
		}
	}
	if len(diffs) > 0 {
		t.Fail("%s", strings.Join(diffs, "; "))
		return
	}
	t.Pass("booted %s as expected", ostreehost.Describe(rec))
}

func yesNo(b bool, y, n string) string {
	if b {
		return y
	}
	return n
}

func list(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// hasPackage matches a name against origin entries, which are names for
// repository packages and NEVRAs (name-version-release.arch) for local
// ones.
func hasPackage(layered []string, name string) bool {
	for _, l := range layered {
		if l == name {
			return true
		}
		if rest, ok := strings.CutPrefix(l, name+"-"); ok && strings.Count(rest, "-") == 1 {
			return true
		}
	}
	return false
}

type tri int

const (
	unknown tri = iota
	yes
	no
)

// rpmQuery returns a function asking the rpm database about one package
// with `rpm -q`; without rpm on the host the answer is unknown.
func rpmQuery(ctx context.Context, t *selftest.T) func(string) (tri, string) {
	if _, err := exec.LookPath("rpm"); err != nil {
		return func(string) (tri, string) { return unknown, "not asked (no rpm on this host)" }
	}
	return func(p string) (tri, string) {
		argv := []string{"rpm", "-q"}
		if db := t.Host.Config.Deployment.RPMDBPath; db != "" {
			// outside the door: rpm takes a path: the root-prefixed one.
			argv = append(argv, "--dbpath", t.Host.Path(db))
		}
		out, err := t.Host.Run(ctx, 30*time.Second, append(argv, "--", p)...)
		var ee *selftest.ExitError
		switch {
		case err == nil:
			return yes, strings.TrimSpace(string(out))
		case errors.As(err, &ee) && ee.Code == 1:
			return no, "not installed"
		}
		return unknown, "rpm -q failed: " + err.Error()
	}
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
		tr.Reason = fmt.Sprintf("same base %s, layered packages %s -> %s", ostreehost.Short(base(cur)), list(prev.LayeredPackages), list(cur.LayeredPackages))
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

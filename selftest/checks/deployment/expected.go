package deployment

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/rpmhost"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "deployment.expected",
		Criterion:   "C3",
		Required:    true,
		Description: "the booted deployment matches the expectation the outer driver left (checksum, version, refspec or container image and digest; layered and absent packages) for C3-C6",
		Timeout:     2 * time.Minute,
		Applies:     needExpectation,
		Run:         checkExpected,
	})
}

// needExpectation: an expectation on a host that is not OSTree-booted is a
// failure of the expectation, so only the sysroot is required here.
func needExpectation(ctx context.Context, h *selftest.RunContext) string {
	if h.History.Expectation == nil {
		return "no expectation left for this boot (atomic-selftest expect)"
	}
	return ostreehost.NeedSysroot(ctx, h)
}

func checkExpected(ctx context.Context, t *selftest.T) {
	ex := t.History.Expectation
	t.UpdateRecord(func(r *record.Record) { r.Expectation = ex })
	s, b := ostreehost.Booted(t)
	if b == nil {
		return
	}
	rec := ostreehost.Record(t.Host, s, b)
	t.UpdateRecord(func(r *record.Record) { r.Deployment = rec })
	var diffs []string
	if ex.Checksum != "" {
		t.Evidence("checksum", ex.Checksum, b.Checksum)
		if !strings.HasPrefix(b.Checksum, ex.Checksum) {
			diffs = append(diffs, fmt.Sprintf("booted %s (%s), expected checksum %s", record.Short(b.Checksum), b.Version(), ex.Checksum))
		}
	}
	if ex.Version != "" {
		t.Evidence("version", ex.Version, b.Version())
		if b.Version() != ex.Version {
			diffs = append(diffs, fmt.Sprintf("booted version %q (%s), expected %q", b.Version(), record.Short(b.Checksum), ex.Version))
		}
	}
	if ex.Refspec != "" {
		t.Evidence("origin refspec", ex.Refspec, b.Refspec())
		if b.Refspec() != ex.Refspec {
			diffs = append(diffs, fmt.Sprintf("booted deployment follows %q, expected %q", b.Refspec(), ex.Refspec))
		}
	}
	if ex.Image != "" {
		seen := b.ImageReference()
		if dg := b.ImageDigest(); dg != "" {
			seen += " (digest " + dg + ")"
		}
		t.Evidence("image", ex.Image, seen)
		if msg := ot.MatchImage(ex.Image, b.ImageReference(), b.ImageDigest()); msg != "" {
			diffs = append(diffs, fmt.Sprintf("booted %s: %s", record.Short(b.Checksum), msg))
		}
	}
	layered := b.Origin.LayeredPackages()
	rpm := rpmhost.Query(ctx, t)
	for _, p := range ex.Packages {
		inOrigin := hasPackage(layered, p)
		installed, how := rpm(p)
		t.Evidence("package "+p, "layered and installed", fmt.Sprintf("origin: %s; rpm: %s", yesNo(inOrigin, "layered", "not layered"), how))
		if !inOrigin {
			diffs = append(diffs, fmt.Sprintf("package %s is not layered in the origin (layered: %s)", p, ostreehost.List(layered)))
		}
		if installed == rpmhost.No {
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
		if installed == rpmhost.Yes {
			diffs = append(diffs, fmt.Sprintf("package %s is still in the rpm database", p))
		}
	}
	t.Conclude(diffs, "booted %s as expected", ostreehost.Describe(rec))
}

func yesNo(b bool, y, n string) string {
	if b {
		return y
	}
	return n
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

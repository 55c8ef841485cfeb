package site

import (
	"context"
	"fmt"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/rpmhost"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "site.policy",
		Criterion:   "SITE",
		Required:    true,
		Description: "the lasting [policy] of the configuration holds on every boot: its units are active, its packages present, its absent_packages absent",
		Timeout:     2 * time.Minute,
		Applies:     needPolicy,
		Run:         checkPolicy,
	})
}

func needPolicy(_ context.Context, rc *selftest.RunContext) string {
	p := rc.Config.Policy
	if len(p.Units)+len(p.Packages)+len(p.AbsentPackages) == 0 {
		return "no [policy] in the configuration"
	}
	return ""
}

// checkPolicy judges [policy], which lasts, unlike an expectation
// (deployment.expected), which one boot consumes. Packages are asked of
// the rpm database as deployment.expected asks it.
func checkPolicy(ctx context.Context, t *selftest.T) {
	p := t.Config.Policy
	var problems []string
	if len(p.Units) > 0 {
		if why := selftest.NeedSystemd(ctx, t.RunContext); why != "" {
			problems = append(problems, fmt.Sprintf("units %v cannot be judged: %s", p.Units, why))
		} else if sd, err := t.Host.Systemd(ctx); err != nil {
			problems = append(problems, fmt.Sprintf("units cannot be judged: %v", err))
		} else {
			for _, u := range p.Units {
				st, err := sd.Unit(ctx, u)
				if err != nil {
					problems = append(problems, fmt.Sprintf("unit %s: %v", u, err))
					continue
				}
				t.Evidence("unit "+u, "active", fmt.Sprintf("%s (%s), load state %s", st.ActiveState, st.SubState, st.LoadState))
				if st.ActiveState != "active" {
					problems = append(problems, fmt.Sprintf("unit %s is %s, not active", u, st.ActiveState))
				}
			}
		}
	}
	if len(p.Packages)+len(p.AbsentPackages) > 0 {
		rpm := rpmhost.Query(ctx, t)
		for _, n := range p.Packages {
			a, how := rpm(n)
			t.Evidence("package "+n, "installed", how)
			switch a {
			case rpmhost.No:
				problems = append(problems, fmt.Sprintf("package %s is not in the rpm database", n))
			case rpmhost.Unknown:
				problems = append(problems, fmt.Sprintf("package %s: %s", n, how))
			}
		}
		for _, n := range p.AbsentPackages {
			a, how := rpm(n)
			t.Evidence("package "+n, "absent", how)
			switch a {
			case rpmhost.Yes:
				problems = append(problems, fmt.Sprintf("package %s is in the rpm database (%s), and [policy] absent_packages forbids it", n, how))
			case rpmhost.Unknown:
				problems = append(problems, fmt.Sprintf("package %s: %s", n, how))
			}
		}
	}
	t.ConcludeWith("the [policy] does not hold: ", problems, "the [policy] holds: %d units active, %d packages present, %d absent", len(p.Units), len(p.Packages), len(p.AbsentPackages))
}

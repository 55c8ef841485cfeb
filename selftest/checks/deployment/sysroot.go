package deployment

import (
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
)

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

func list(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

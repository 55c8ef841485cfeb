package site

import (
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/sitehost"
	"github.com/atomic-selftest/atomic-selftest/selftest/site"
)

// greenboot's check scripts, where [site] greenboot is on: a Fedora IoT
// or RHEL for Edge host keeps its scripts when it moves to
// atomic-selftest (docs/health.md).
func init() {
	selftest.RegisterSource(selftest.Source{
		Name:   "greenboot",
		Checks: greenboot,
	})
}

func greenboot(rc *selftest.RunContext) []*selftest.Check {
	if !rc.Config.Site.Greenboot {
		return nil
	}
	return sitehost.Checks(rc, site.Greenboot(rc.Files(), site.GreenbootVendorDir, site.GreenbootAdminDir), "greenboot's script")
}

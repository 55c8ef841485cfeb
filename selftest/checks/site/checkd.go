package site

import (
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/sitehost"
	"github.com/atomic-selftest/atomic-selftest/selftest/site"
)

// The executables in /usr/lib/atomic-selftest/check.d/{required,wanted}
// and /etc/atomic-selftest/check.d/{required,wanted}, one check each,
// found again for every run.
func init() {
	selftest.RegisterSource(selftest.Source{
		Name:   "check.d",
		Checks: checkD,
	})
}

func checkD(rc *selftest.RunContext) []*selftest.Check {
	return sitehost.Checks(rc, site.CheckD(rc.Files(), site.VendorDir, site.AdminDir), "the site's check")
}

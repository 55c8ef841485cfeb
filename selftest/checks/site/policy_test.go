package site

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// site.policy: skipped without a [policy]; units judged through systemd,
// packages through a real (empty) rpm database.
func TestPolicy(t *testing.T) {
	root := t.TempDir()
	h := selftest.NewHost(root)
	h.Offline = false
	sd := checktest.NewSystemd(map[string]selftest.UnitState{
		"app.service":   {LoadState: "loaded", ActiveState: "active", SubState: "running"},
		"other.service": {LoadState: "loaded", ActiveState: "failed", SubState: "failed"},
	})
	h.NewSystemd = sd.Open
	cfg := config.Defaults()
	rc := selftest.NewRunContext(h, cfg)
	checktest.Expect(t, checktest.ByID(t, rc, "site.policy", 0), record.StatusSkip, "no [policy]")

	cfg.Policy.Units = []string{"app.service"}
	checktest.Expect(t, checktest.ByID(t, rc, "site.policy", 0), record.StatusPass, "the [policy] holds: 1 units active")
	cfg.Policy.Units = []string{"app.service", "other.service", "gone.mount"}
	checktest.Expect(t, checktest.ByID(t, rc, "site.policy", 0), record.StatusFail,
		"unit other.service is failed, not active", "unit gone.mount is inactive, not active")

	rpm := testutil.NeedCommand(t, "rpm", "rpm")
	db := filepath.Join(root, "var/lib/rpm")
	if out, err := exec.Command(rpm, "--dbpath", db, "--initdb").CombinedOutput(); err != nil {
		t.Fatalf("rpm --initdb: %v\n%s", err, out)
	}
	cfg.Deployment.RPMDBPath = "/var/lib/rpm"
	cfg.Policy = config.Policy{AbsentPackages: []string{"telnet-server"}}
	checktest.Expect(t, checktest.ByID(t, rc, "site.policy", 0), record.StatusPass, "0 packages present, 1 absent")
	cfg.Policy = config.Policy{Packages: []string{"my-agent"}, AbsentPackages: []string{"telnet-server"}}
	checktest.Expect(t, checktest.ByID(t, rc, "site.policy", 0), record.StatusFail, "the [policy] does not hold: package my-agent is not in the rpm database")
}

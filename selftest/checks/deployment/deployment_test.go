package deployment_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/deployment"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func TestClassify(t *testing.T) {
	t0 := time.Date(2018, 5, 15, 0, 0, 0, 0, time.UTC)
	old := &record.Deployment{OSName: "fa", Checksum: "aaaa", Version: "28.1", CommitTime: t0, Rollback: "fa/cccc.0"}
	for _, tc := range []struct {
		name string
		prev *record.Deployment
		cur  record.Deployment
		kind string
	}{
		{"nothing recorded before", nil, record.Deployment{OSName: "fa", Checksum: "aaaa"}, record.TransitionFirstBoot},
		{"same deployment", old, *old, record.TransitionSame},
		{"newer commit", old, record.Deployment{OSName: "fa", Checksum: "bbbb", Version: "28.2", CommitTime: t0.Add(time.Hour)}, record.TransitionUpgrade},
		// The last boot's rollback deployment booted: a rollback, even
		// though it is older.
		{"rollback", old, record.Deployment{OSName: "fa", Checksum: "cccc", CommitTime: t0.Add(-time.Hour)}, record.TransitionRollback},
		// An older commit that was not the rollback: deploy.
		{"older commit", old, record.Deployment{OSName: "fa", Checksum: "dddd", CommitTime: t0.Add(-time.Hour)}, record.TransitionDeploy},
		// Written before the last boot started: it existed already, so
		// booting it is a rollback whatever the last record said, even
		// to a newer commit.
		{"existing deployment", &record.Deployment{OSName: "fa", Checksum: "aaaa", CommitTime: t0, BootedAt: t0.Add(2 * time.Hour)}, record.Deployment{OSName: "fa", Checksum: "dddd", CommitTime: t0.Add(time.Hour), Deployed: t0.Add(time.Hour)}, record.TransitionRollback},
		// Written during the last boot, an older commit: deploy.
		{"new deployment of an older commit", &record.Deployment{OSName: "fa", Checksum: "aaaa", CommitTime: t0, BootedAt: t0}, record.Deployment{OSName: "fa", Checksum: "dddd", CommitTime: t0.Add(-time.Hour), Deployed: t0.Add(time.Hour)}, record.TransitionDeploy},
		{"layered on the same base", old, record.Deployment{OSName: "fa", Checksum: "eeee", BaseChecksum: "aaaa", LayeredPackages: []string{"htop"}, CommitTime: t0.Add(time.Minute)}, record.TransitionLayering},
		// Without commit times, versions decide with strverscmp.
		{"versions only", &record.Deployment{OSName: "fa", Checksum: "aaaa", Version: "28.9"}, record.Deployment{OSName: "fa", Checksum: "ffff", Version: "28.10"}, record.TransitionUpgrade},
	} {
		cur := tc.cur
		tr := deployment.Classify(tc.prev, &cur)
		if tr.Kind != tc.kind || tr.Reason == "" {
			t.Errorf("%s: %s (%s), want %s", tc.name, tr.Kind, tr.Reason, tc.kind)
		}
	}
}

func TestExpected(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	// rpm-ostree's origin for a layered package (rust/src/origin.rs in
	// coreos/rpm-ostree: baserefspec and [packages] requested).
	sr.WriteOrigin("fedora-atomic", c2, 0, "[origin]\nbaserefspec="+ostreetest.Branch+"\n\n[packages]\nrequested=layered-tool;\n")
	root := sr.BootedRoot("fedora-atomic", c2, 0, false)
	// The rpm database lives in the deployment's /var (the stateroot's).
	db := "/var/lib/rpm-test"
	testutil.InstallRPM(t, filepath.Join(root, db), "layered-tool")
	h := ostreetest.LiveHost(root)
	h.Config.Deployment.RPMDBPath = db

	h.History.Expectation = &record.Expectation{Version: "28.2", Refspec: ostreetest.Branch, Packages: []string{"layered-tool"}, AbsentPackages: []string{"docker"}}
	r, rec := checktest.WithDepends(t, h, "deployment.expected")
	checktest.Expect(t, r, record.StatusPass, "booted fedora-atomic "+c2[:10])
	if rec.Expectation == nil || rec.Expectation.Version != "28.2" || rec.Deployment == nil || rec.Deployment.Checksum != c2 {
		t.Errorf("record %+v %+v", rec.Expectation, rec.Deployment)
	}

	// Everything that can differ, said exactly.
	h.History.Expectation = &record.Expectation{Checksum: c1, Version: "28.1", Packages: []string{"htop"}, AbsentPackages: []string{"layered-tool"}}
	r, _ = checktest.WithDepends(t, h, "deployment.expected")
	checktest.Expect(t, r, record.StatusFail, "booted "+c2[:10]+"… (28.2), expected checksum "+c1+
		"; booted version \"28.2\" ("+c2[:10]+"…), expected \"28.1\""+
		"; package htop is not layered in the origin (layered: layered-tool)"+
		"; package htop is not in the rpm database"+
		"; package layered-tool is still layered in the origin"+
		"; package layered-tool is still in the rpm database")

	// An expectation on a sysroot whose booted deployment cannot be
	// identified fails and says why.
	un := ostreetest.LiveHost(sr.Dir)
	un.History.Expectation = &record.Expectation{Version: "28.2"}
	r, _ = checktest.WithDepends(t, un, "deployment.expected")
	checktest.Expect(t, r, record.StatusFail, "cannot identify the booted deployment: not OSTree-booted (no /run/ostree-booted)")

	// No expectation: skipped with the reason.
	h.History.Expectation = nil
	r, _ = checktest.WithDepends(t, h, "deployment.expected")
	checktest.Expect(t, r, record.StatusSkip, "no expectation left for this boot")
}

// Upgrade and rollback on a real sysroot: the record of one boot is the
// history of the next.
func TestTransition(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	// Boot 1: the newest (28.2); the rollback is 28.1. It started after
	// both were deployed.
	root := sr.BootedRoot("fedora-atomic", c2, 0, false)
	ostreetest.SetBootTime(t, root, time.Now().Add(time.Second))
	r, rec := checktest.WithDepends(t, ostreetest.LiveHost(root), "deployment.transition")
	checktest.Expect(t, r, record.StatusPass, "first-boot")
	if rec.Deployment == nil || rec.Deployment.Rollback != "fedora-atomic/"+c1+".0" {
		t.Fatalf("record deployment %+v", rec.Deployment)
	}
	first := rec.Deployment

	// The rollback is ordered during boot 1 and boot 1 runs again after
	// it: that record has no rollback deployment any more (28.1 is now
	// pending), as on the real VM when the boot-time run came late.
	sr.Rollback()
	_, rec = checktest.WithDepends(t, ostreetest.LiveHost(root), "deployment.transition")
	late := rec.Deployment
	if late.Rollback != "" || late.Deployed.IsZero() {
		t.Fatalf("late record %+v", late)
	}

	// Boot 2: rolled back to 28.1. It starts before the upgrade below is
	// deployed.
	root = sr.BootedRoot("fedora-atomic", c1, 0, false)
	ostreetest.SetBootTime(t, root, time.Now().Add(-time.Second))
	h := ostreetest.LiveHost(root)
	h.History.LastDeployment = first
	r, rec = checktest.WithDepends(t, h, "deployment.transition")
	checktest.Expect(t, r, record.StatusPass, "rollback: booted the last boot's rollback deployment fedora-atomic "+c1[:10])
	if rec.Transition == nil || rec.Transition.Kind != record.TransitionRollback || rec.Transition.From != first {
		t.Errorf("transition %+v", rec.Transition)
	}
	// Against the late record: still a rollback, by when each was deployed.
	h.History.LastDeployment = late
	r, _ = checktest.WithDepends(t, h, "deployment.transition")
	checktest.Expect(t, r, record.StatusPass, "rollback: booted fedora-atomic "+c1[:10]+"….0 (28.1), deployed ")
	if late.BootedAt.IsZero() {
		t.Error("the record has no boot time")
	}

	// Boot 3: upgrade to a new commit 28.3.
	second := rec.Deployment
	c3 := sr.Commit(ostreetest.Branch, "28.3", "c")
	sr.Deploy("fedora-atomic", ostreetest.Branch)
	root = sr.BootedRoot("fedora-atomic", c3, 0, false)
	h = ostreetest.LiveHost(root)
	h.History.LastDeployment = second
	r, _ = checktest.WithDepends(t, h, "deployment.transition")
	checktest.Expect(t, r, record.StatusPass, "upgrade: fedora-atomic "+c1[:10]+"….0 (28.1) -> fedora-atomic "+c3[:10]+"….0 (28.3): newer commit")
}

package deployment_test

import (
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/checks/deployment"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// A rollback is atomic-selftest's only when the last boot's health action
// rolled back to the deployment this boot runs.
func TestAttribute(t *testing.T) {
	a := &record.Deployment{OSName: "fa", Checksum: "aaaaaaaaaaaa", Version: "12.3", Rollback: "fa/bbbbbbbbbbbb.0"}
	b := &record.Deployment{OSName: "fa", Checksum: "bbbbbbbbbbbb", Version: "12.2"}
	rollback := &record.Health{Policy: "rollback", Action: record.HealthRollback, From: a, To: b, Attempt: 2, MaxAttempts: 2,
		Failing: []record.FailingCheck{{ID: "runtime.service", Message: "docker.service is failed, expected active"}, {ID: "host.units", Message: "x"}}}
	for _, tc := range []struct {
		name   string
		action *record.Health
		to     *record.Deployment
		by     bool
	}{
		{"ordered by atomic-selftest", rollback, b, true},
		{"no action: a manual rollback", nil, b, false},
		{"a reboot, not a rollback", &record.Health{Action: record.HealthReboot, From: a}, b, false},
		{"a rollback to another deployment", rollback, &record.Deployment{OSName: "fa", Checksum: "bbbbbbbbbbbb", Serial: 1}, false},
	} {
		tr := deployment.Classify(a, tc.to)
		got := deployment.Attribute(tr, "run-20261207T031000.000000Z-0123abcd", tc.action)
		if got != tc.by || (tr.By != "") != tc.by || (tr.ActionRecord != "") != tc.by {
			t.Errorf("%s: attributed %v, transition %+v", tc.name, got, tr)
			continue
		}
		if tc.by {
			want := "rollback by atomic-selftest (record run-20261207T031000.000000Z-0123abcd): runtime.service failed: docker.service is failed, expected active (and 1 more)"
			if tr.Kind != record.TransitionRollback || tr.Reason != want || tr.From != a {
				t.Errorf("%s: %s %q, want %q", tc.name, tr.Kind, tr.Reason, want)
			}
		} else if tr.Kind != record.TransitionRollback && tc.to == b {
			t.Errorf("%s: %s, want a (manual) rollback", tc.name, tr.Kind)
		}
	}
}

// On a real sysroot: booting deployment index 1 (28.1) while the
// bootloader configuration, written before the boot, defaults to 28.2 is
// a fallback; after the configuration changed during the boot it is not;
// after a rollback atomic-selftest ordered it is that rollback.
func TestFallback(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	if st := sr.Status(); len(st) != 2 || st[1].Checksum != c1 {
		t.Fatalf("fixture: want 28.1 at index 1, got %+v", st)
	}
	root := sr.BootedRoot("fedora-atomic", c1, 0, false)
	// The boot started after ostree wrote the configuration.
	ostreetest.SetBootTime(t, root, time.Now().Add(2*time.Second))
	prev := &record.Deployment{OSName: "fedora-atomic", Checksum: c1, Serial: 0, Version: "28.1"}
	h := ostreetest.LiveHost(root)
	h.History.LastDeployment = prev
	r, rec := checktest.WithDepends(t, h, "deployment.transition")
	want := "fallback: the bootloader started 28.1 (" + record.Short(c1) + "), the default entry is 28.2 (" + record.Short(c2) + ")"
	checktest.Expect(t, r, record.StatusFail, want)
	tr := rec.Transition
	if tr == nil || tr.Kind != record.TransitionFallback || tr.Expected == nil || tr.Expected.Checksum != c2 || tr.To.Checksum != c1 || tr.From != prev {
		t.Fatalf("transition %+v", tr)
	}

	// The same boot, had it started before ostree wrote the
	// configuration (an upgrade deployed during the boot): the default
	// entry then says nothing about the bootloader's choice.
	ostreetest.SetBootTime(t, root, time.Now().Add(-time.Hour))
	r, rec = checktest.WithDepends(t, h, "deployment.transition")
	checktest.Expect(t, r, record.StatusPass, "same: ")
	if rec.Transition.Kind != record.TransitionSame || rec.Transition.Expected != nil {
		t.Errorf("transition %+v", rec.Transition)
	}

	// The last boot ran 28.2, failed, and its health policy rolled back
	// to 28.1, which is the default entry now.
	sr.Rollback()
	failing := &record.Deployment{OSName: "fedora-atomic", Checksum: c2, Version: "28.2", Rollback: "fedora-atomic/" + c1 + ".0"}
	root = sr.BootedRoot("fedora-atomic", c1, 0, false)
	ostreetest.SetBootTime(t, root, time.Now().Add(2*time.Second))
	h = ostreetest.LiveHost(root)
	h.History.LastDeployment = failing
	h.History.LastActionRecord = "run-20261207T031000.000000Z-0123abcd"
	h.History.LastAction = &record.Health{Policy: "rollback", Action: record.HealthRollback, From: failing, Attempt: 1, MaxAttempts: 1,
		To:      &record.Deployment{OSName: "fedora-atomic", Checksum: c1, Serial: 0, Version: "28.1"},
		Failing: []record.FailingCheck{{ID: "runtime.service", Message: "docker.service is failed"}}}
	r, rec = checktest.WithDepends(t, h, "deployment.transition")
	checktest.Expect(t, r, record.StatusPass, "rollback by atomic-selftest (record run-20261207T031000.000000Z-0123abcd): runtime.service failed: docker.service is failed")
	if tr := rec.Transition; tr.Kind != record.TransitionRollback || tr.By != record.TransitionByAtomicSelftest || tr.ActionRecord != h.History.LastActionRecord {
		t.Errorf("transition %+v", tr)
	}

	// Without the action the same boot is a manual rollback.
	h.History.LastAction, h.History.LastActionRecord = nil, ""
	r, rec = checktest.WithDepends(t, h, "deployment.transition")
	checktest.Expect(t, r, record.StatusPass, "rollback: booted the last boot's rollback deployment")
	if rec.Transition.By != "" || strings.Contains(r.Message, "atomic-selftest") {
		t.Errorf("manual rollback: %+v", rec.Transition)
	}

	// And 28.2, booted now that 28.1 is the default, is a fallback the
	// other way round.
	root = sr.BootedRoot("fedora-atomic", c2, 0, false)
	ostreetest.SetBootTime(t, root, time.Now().Add(2*time.Second))
	r, _ = checktest.WithDepends(t, ostreetest.LiveHost(root), "deployment.transition")
	checktest.Expect(t, r, record.StatusFail, "fallback: the bootloader started 28.2 ("+record.Short(c2)+"), the default entry is 28.1")
}

package health

import (
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

var (
	csumNew = strings.Repeat("b", 64)
	csumOld = strings.Repeat("a", 64)
)

// failedRun is a boot of csumNew after kind whose required check
// ostree.booted failed; rollback names csumOld as the rollback deployment.
func failedRun(kind string, rollback bool) *record.Record {
	d := &record.Deployment{OSName: "fedora-atomic", Checksum: csumNew, Serial: 0, Version: "28.2"}
	if rollback {
		d.Rollback = "fedora-atomic/" + csumOld + ".0"
	}
	rec := &record.Record{Trigger: record.TriggerBoot, Deployment: d, Checks: []record.Result{
		{ID: "ostree.booted", Required: true, Status: record.StatusFail, Message: "booted 28.2, expected 28.1"},
		{ID: "runtime.info", Required: false, Status: record.StatusFail, Message: "wanted"},
		{ID: "host.var", Required: true, Status: record.StatusPass},
	}}
	if kind != "" {
		rec.Transition = &record.Transition{Kind: kind}
	}
	rec.Summary = record.Summarise(rec.Checks)
	return rec
}

func policy(onFailure string, attempts int) config.Health {
	p := config.Defaults().Health
	p.OnFailure, p.RebootAttempts = onFailure, attempts
	return p
}

// TestDecide: one row per rule of the policy, with the reason a refusal
// records.
func TestDecide(t *testing.T) {
	onlyWanted := failedRun(record.TransitionUpgrade, true)
	onlyWanted.Checks[0].Status = record.StatusPass
	onlyWanted.Summary = record.Summarise(onlyWanted.Checks)
	passed := failedRun(record.TransitionUpgrade, true)
	passed.Checks = passed.Checks[2:]
	passed.Summary = record.Summarise(passed.Checks)
	noDeployment := failedRun(record.TransitionUpgrade, true)
	noDeployment.Deployment = nil
	selfRollback := failedRun(record.TransitionUpgrade, false)
	selfRollback.Deployment.Rollback = "fedora-atomic/" + csumNew + ".1"
	series := &State{Attempts: map[string]*Attempts{csumNew: {Count: 1, Kind: record.TransitionUpgrade}}}

	for _, tc := range []struct {
		name    string
		p       config.Health
		rec     *record.Record
		st      *State
		attempt int
		action  string // "" = no Health
		reason  string // a refusal's reason contains this
	}{
		// The shipped default: a failure is recorded, nothing done.
		{"record policy", policy("record", 1), failedRun(record.TransitionUpgrade, true), nil, 1, record.HealthRecord, ""},
		{"passed run", policy("rollback", 1), passed, nil, 1, "", ""},
		{"only wanted, policy record", policy("record", 1), onlyWanted, nil, 1, "", ""},
		{"only wanted checks failed", policy("rollback", 0), onlyWanted, nil, 1, record.HealthRefused, "only wanted checks failed (runtime.info)"},
		{"no booted deployment", policy("rollback", 0), noDeployment, nil, 1, record.HealthRefused, "no booted deployment was found"},
		{"no transition", policy("rollback", 0), failedRun("", true), nil, 1, record.HealthRefused, "the transition since the last run is unknown"},
		{"a rollback boot", policy("rollback", 0), failedRun(record.TransitionRollback, true), nil, 1, record.HealthRefused, "this boot is a rollback"},
		{"a fallback boot", policy("rollback", 0), failedRun(record.TransitionFallback, true), nil, 1, record.HealthRefused, "the bootloader fell back"},
		{"same deployment, no series", policy("rollback", 0), failedRun(record.TransitionSame, true), nil, 1, record.HealthRefused, "the same deployment as the last run booted again"},
		{"same deployment, last good run", policy("rollback", 0), failedRun(record.TransitionSame, true), &State{LastGood: csumNew}, 1, record.HealthRefused, "passed on an earlier boot (the last good run)"},
		{"first boot not eligible", policy("rollback", 0), failedRun(record.TransitionFirstBoot, true), nil, 1, record.HealthRefused, `transition "first-boot" is not in health.transitions (upgrade, deploy, layering)`},
		{"unknown not eligible", policy("rollback", 0), failedRun(record.TransitionUnknown, true), nil, 1, record.HealthRefused, `transition "unknown" is not in health.transitions`},
		{"no rollback deployment", policy("rollback", 0), failedRun(record.TransitionUpgrade, false), nil, 1, record.HealthRefused, "there is no rollback deployment"},
		{"rollback deployment garbled", policy("rollback", 0), func() *record.Record {
			r := failedRun(record.TransitionDeploy, false)
			r.Deployment.Rollback = "nonsense"
			return r
		}(), nil, 1, record.HealthRefused, `the rollback deployment "nonsense" cannot be read`},
		{"rollback to itself", policy("rollback", 0), selfRollback, nil, 1, record.HealthRefused, "a rollback would change nothing"},
		{"booted was rolled back from", policy("rollback", 0), failedRun(record.TransitionDeploy, true), &State{RolledBackFrom: []string{csumNew}}, 1, record.HealthRefused, "was rolled back from before and is booted again"},
		{"booted is a rollback target", policy("rollback", 0), failedRun(record.TransitionDeploy, true), &State{RolledBackTo: []string{csumNew}}, 1, record.HealthRefused, "is the target of an earlier rollback and failed too; the host stays"},
		{"target was rolled back from", policy("rollback", 0), failedRun(record.TransitionDeploy, true), &State{RolledBackFrom: []string{csumOld}}, 1, record.HealthRefused, "was itself rolled back from earlier"},
		{"reboot policy, attempts left", policy("reboot", 2), failedRun(record.TransitionUpgrade, false), nil, 2, record.HealthReboot, ""},
		{"reboot policy, attempts used", policy("reboot", 1), failedRun(record.TransitionSame, true), series, 2, record.HealthRefused, "reboot attempts used up (attempt 2 of 2) and on_failure is reboot"},
		{"rollback policy, first attempt reboots", policy("rollback", 1), failedRun(record.TransitionUpgrade, true), nil, 1, record.HealthReboot, ""},
		{"rollback policy, second attempt rolls back", policy("rollback", 1), failedRun(record.TransitionSame, true), series, 2, record.HealthRollback, ""},
		{"upgrade, no reboots", policy("rollback", 0), failedRun(record.TransitionUpgrade, true), nil, 1, record.HealthRollback, ""},
		{"deploy", policy("rollback", 0), failedRun(record.TransitionDeploy, true), nil, 1, record.HealthRollback, ""},
		{"layering", policy("rollback", 0), failedRun(record.TransitionLayering, true), nil, 1, record.HealthRollback, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st
			if st == nil {
				st = &State{}
			}
			d := Decide(tc.p, tc.rec, st, tc.attempt)
			if tc.action == "" {
				if d.Health != nil {
					t.Fatalf("want no health, got %+v", d.Health)
				}
				return
			}
			h := d.Health
			if h == nil || h.Action != tc.action {
				t.Fatalf("want action %s, got %+v", tc.action, h)
			}
			if !strings.Contains(h.Reason, tc.reason) || (tc.reason == "") != (h.Reason == "") {
				t.Errorf("reason %q, want %q", h.Reason, tc.reason)
			}
			if h.Policy != tc.p.OnFailure || h.Attempt != tc.attempt || h.MaxAttempts != tc.p.RebootAttempts+1 {
				t.Errorf("policy/attempts: %+v", h)
			}
			if tc.rec.Deployment != nil && len(h.Failing) != 1 && !tc.rec.Summary.OK {
				t.Errorf("failing: %+v, want ostree.booted only (wanted checks are not listed)", h.Failing)
			}
			if h.Action == record.HealthRollback {
				if h.From.Checksum != csumNew || h.To == nil || h.To.Checksum != csumOld || Name(h.To) != "fedora-atomic/"+csumOld+".0" {
					t.Errorf("from/to: %+v → %+v", h.From, h.To)
				}
			} else if h.To != nil {
				t.Errorf("a %s has a target: %+v", h.Action, h.To)
			}
		})
	}
}

func TestFailingCarriesMessages(t *testing.T) {
	f := Failing(failedRun(record.TransitionUpgrade, true))
	if len(f) != 1 || f[0].ID != "ostree.booted" || f[0].Message != "booted 28.2, expected 28.1" {
		t.Errorf("failing: %+v", f)
	}
}

// FuzzParseDeploymentName: never panics, and what it accepts has a
// 64-digit checksum and an osname.
func FuzzParseDeploymentName(f *testing.F) {
	f.Add("fedora-atomic/" + csumOld + ".0")
	f.Add("/x.1")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDeploymentName(s)
		if err == nil && (len(d.Checksum) != 64 || d.OSName == "") {
			t.Errorf("%q accepted as %+v", s, d)
		}
	})
}

// Package health acts on a boot's verdict under the [health] policy: it
// decides (Decide, pure), keeps the per-deployment attempt counts and the
// in-flight action in /var/lib/atomic-selftest/health.json (written like
// the run records, through selftest/store, under the results lock), rolls
// back through the host's own deployment tool (bootc, rpm-ostree, or a
// configured argv on a plain ostree host; never by writing the deployment
// list itself) and asks systemd over D-Bus for the reboot.
//
// The action is a stage machine: decided → rollback-written →
// reboot-requested → done (record.HealthStage*). The state file is written
// before each external step, so a run killed at any point leaves a state
// the next boot's run completes or reports, and never a second rollback.
package health

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Decision is what Decide chose for one run. Health is nil when there is
// nothing to record (every check passed, or only wanted ones failed under
// policy record).
type Decision struct {
	Health *record.Health
	// Kind is the transition the failing series started with (for a
	// "same" boot of a deployment already being retried, the kind of the
	// boot that brought it in).
	Kind string
}

// Decide applies policy to a finished boot-triggered run, given the state
// earlier runs left. It is pure: it neither reads nor writes anything.
// attempt is the failed-boot count of the booted checksum, this boot
// included (State.NextAttempt).
func Decide(p config.Health, rec *record.Record, st *State, attempt int) Decision {
	if rec.Summary.OK && len(rec.Summary.WantedBad) == 0 {
		return Decision{}
	}
	h := &record.Health{Policy: p.OnFailure, Failing: Failing(rec), Attempt: attempt, MaxAttempts: p.RebootAttempts + 1, From: rec.Deployment}
	refuse := func(format string, args ...any) Decision {
		h.Action, h.Reason = record.HealthRefused, fmt.Sprintf(format, args...)
		return Decision{Health: h}
	}
	if rec.Summary.OK {
		if p.OnFailure == record.HealthRecord {
			return Decision{}
		}
		return refuse("only wanted checks failed (%s); the policy acts on required checks only", strings.Join(rec.Summary.WantedBad, ", "))
	}
	if p.OnFailure == record.HealthRecord {
		h.Action = record.HealthRecord
		return Decision{Health: h}
	}
	d := rec.Deployment
	if d == nil {
		return refuse("no booted deployment was found, so there is nothing to reboot into or roll back from")
	}
	if st.rolledBackFrom(d.Checksum) {
		return refuse("deployment %s was rolled back from before and is booted again; it is never rolled back twice", short(d.Checksum))
	}
	if st.rolledBackTo(d.Checksum) {
		return refuse("deployment %s is the target of an earlier rollback and failed too; the host stays on it", short(d.Checksum))
	}
	if st != nil && st.LastGood != "" && st.LastGood == d.Checksum {
		return refuse("deployment %s passed on an earlier boot (the last good run); a failure now is not the new deployment's", short(d.Checksum))
	}
	kind := ""
	if rec.Transition != nil {
		kind = rec.Transition.Kind
	}
	switch kind {
	case "":
		return refuse("the transition since the last run is unknown (no deployment.transition result)")
	case record.TransitionRollback:
		return refuse("this boot is a rollback; a rollback is never acted on")
	case record.TransitionFallback:
		return refuse("the bootloader fell back to another entry than the default; acting could undo what the bootloader chose")
	case record.TransitionSame:
		series := st.series(d.Checksum)
		if series == "" {
			return refuse("the same deployment as the last run booted again, not a new one; only a new deployment is acted on")
		}
		kind = series
	}
	if !slices.Contains(p.Transitions, kind) {
		return refuse("transition %q is not in health.transitions (%s)", kind, strings.Join(p.Transitions, ", "))
	}
	if attempt <= p.RebootAttempts {
		h.Action = record.HealthReboot
		return Decision{Health: h, Kind: kind}
	}
	if p.OnFailure == record.HealthReboot {
		return refuse("reboot attempts used up (attempt %d of %d) and on_failure is reboot; the host stays", attempt, h.MaxAttempts)
	}
	if d.Rollback == "" {
		return refuse("there is no rollback deployment to roll back to")
	}
	to, err := ParseDeploymentName(d.Rollback)
	if err != nil {
		return refuse("the rollback deployment %q cannot be read: %v", d.Rollback, err)
	}
	if st.rolledBackFrom(to.Checksum) {
		return refuse("the rollback deployment %s was itself rolled back from earlier; rolling back to it would loop", short(to.Checksum))
	}
	if to.Checksum == d.Checksum {
		return refuse("the rollback deployment has the booted checksum %s; a rollback would change nothing", short(d.Checksum))
	}
	h.Action, h.To = record.HealthRollback, to
	return Decision{Health: h, Kind: kind}
}

// Failing lists the required checks that did not pass, with their
// messages.
func Failing(rec *record.Record) []record.FailingCheck {
	var out []record.FailingCheck
	for _, r := range rec.Checks {
		if r.Required && r.Status.Bad() {
			out = append(out, record.FailingCheck{ID: r.ID, Message: r.Message})
		}
	}
	return out
}

// ParseDeploymentName reads record.Deployment.Rollback's form,
// osname/checksum.serial.
func ParseDeploymentName(s string) (*record.Deployment, error) {
	osname, rest, ok := strings.Cut(s, "/")
	if !ok || osname == "" {
		return nil, fmt.Errorf("want osname/checksum.serial, got %q", s)
	}
	csum, serial, ok := strings.Cut(rest, ".")
	n, err := strconv.Atoi(serial)
	if !ok || err != nil || len(csum) != 64 {
		return nil, fmt.Errorf("want osname/checksum.serial with a 64-digit checksum, got %q", s)
	}
	return &record.Deployment{OSName: osname, Checksum: csum, Serial: n}, nil
}

// Name is a deployment's osname/checksum.serial.
func Name(d *record.Deployment) string {
	return fmt.Sprintf("%s/%s.%d", d.OSName, d.Checksum, d.Serial)
}

func short(c string) string {
	if len(c) > 10 {
		return c[:10]
	}
	return c
}

package health

// Making a fallback stick ([health] keep_fallback): greenboot #105, and
// what fedora-iot/greenboot's
// usr/libexec/greenboot/greenboot-rpm-ostree-grub2-check-fallback does on
// its hosts (when GRUB's grubenv says it fell back, boot_counter=-1, it
// runs `rpm-ostree rollback` and clears the counter).

import (
	"context"
	"fmt"

	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// fellBack is the default entry this boot's bootloader did not start,
// when deployment.transition recorded a fallback: the booted deployment
// is not the first deployment of the bootloader configuration (a staged
// deployment, not in it yet, aside), and that configuration was written
// before this boot started. Otherwise nil.
func fellBack(rec *record.Record) *record.Deployment {
	if t := rec.Transition; t != nil && t.Kind == record.TransitionFallback && t.Expected != nil && rec.Deployment != nil {
		return t.Expected
	}
	return nil
}

// keepFallback makes the booted deployment, which the bootloader fell
// back to, the default through tool, and returns the Health that says so
// or why not. The tool is the rollback's:
//
//   - rpm-ostree rollback moves the deployment after the booted one to
//     the front or, when there is none but a pending one before it, the
//     booted one (coreos/rpm-ostree src/daemon/rpmostreed-transaction-types.cxx,
//     rollback_transaction_execute, with libostree's
//     ostree_sysroot_query_deployments_for). So it makes the booted one
//     the default only where no deployment of its stateroot follows it;
//     with one (an older deployment kept behind it) it would make that
//     the default, and nothing is done.
//   - bootc rollback, when the rollback deployment (the first of the
//     stateroot other than the booted and the staged one) comes before
//     the booted one, which is a fallback, reverts that queued rollback:
//     the booted deployment goes first (bootc-dev/bootc crates/lib/src/deploy.rs,
//     rollback; crates/lib/src/status.rs, rollback_queued).
//   - health.rollback_command stands for rpm-ostree's rollback on a plain
//     ostree host (Debian 12's ostree 2022.7 has neither a rollback verb
//     nor `ostree admin set-default INDEX`, which later ostree has), so
//     the rpm-ostree rule applies.
//
// After the tool, the deployment list is read again from root: the
// booted deployment must be the first one, else the record says what is.
func keepFallback(ctx context.Context, env *Env, rec *record.Record, def *record.Deployment) *record.Health {
	booted := rec.Deployment
	h := &record.Health{Policy: env.Policy.OnFailure, Action: record.HealthKeepFallback, From: def, To: booted,
		Failing: Failing(rec), Stage: record.HealthStageDone, DecidedAt: env.now()}
	refuse := func(format string, args ...any) *record.Health {
		h.Action, h.Reason = record.HealthRefused, "keep_fallback: "+fmt.Sprintf(format, args...)
		return h
	}
	if def.OSName != booted.OSName {
		return refuse("the default entry %s is of stateroot %s, the booted deployment of %s; the tools reorder one stateroot", def.Label(), def.OSName, booted.OSName)
	}
	tool := env.Tool
	if tool == nil {
		var err error
		if tool, err = Detect(ctx, env.Policy, env.Commands); err != nil {
			return refuse("%v", err)
		}
	}
	h.Tool = tool.Name()
	if tool.Name() != "bootc" && booted.Rollback != "" {
		return refuse("%s would make %s the default (the deployment after the booted one), not the booted %s", rollbackVerb(tool), booted.Rollback, booted.Label())
	}
	if err := tool.Rollback(ctx); err != nil {
		h.Error = err.Error()
		return h
	}
	first, err := defaultDeployment(env.root())
	switch {
	case err != nil:
		h.Error = fmt.Sprintf("after %s: %v", rollbackVerb(tool), err)
	case first == nil || first.OSName != booted.OSName || first.Checksum != booted.Checksum || first.Serial != booted.Serial:
		h.Error = fmt.Sprintf("after %s the default deployment is %s, not the booted %s", rollbackVerb(tool), describe(first), booted.Label())
	default:
		h.Reason = fmt.Sprintf("the bootloader fell back from %s to %s; %s made %s the default, so the next boot starts it again", def.Label(), booted.Label(), rollbackVerb(tool), booted.Label())
	}
	return h
}

// defaultDeployment is the first deployment of the bootloader
// configuration under root (the staged one, not in it yet, aside).
func defaultDeployment(root string) (*ot.Deployment, error) {
	s, err := ot.Load(ot.Options{Root: root})
	if err != nil {
		return nil, fmt.Errorf("reading the deployments: %w", err)
	}
	for _, d := range s.Deployments {
		if !d.Staged {
			return d, nil
		}
	}
	return nil, nil
}

func describe(d *ot.Deployment) string {
	if d == nil {
		return "none"
	}
	return d.OSName + "/" + d.Name()
}

// rollbackVerb names what the tool ran, for messages.
func rollbackVerb(t Tool) string {
	switch t.Name() {
	case "bootc":
		return "bootc rollback"
	case "rpm-ostree":
		return "rpm-ostree rollback"
	}
	return "health.rollback_command"
}

package outer

// The run and expect actions: a deployment command with its placeholders
// filled in and its effect on the default deployment checked, and the
// expectation left for the next boot.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// expand fills the placeholders of one argument: the plan's ({package},
// {package2}, {upgrade_ref}) here, the others by the host's family.
func (h *hostRun) expand(ctx context.Context, s string) (string, error) {
	if !strings.Contains(s, "{") {
		return s, nil
	}
	var err error
	out := plan.Placeholders.ReplaceAllStringFunc(s, func(m string) string {
		switch m {
		case "{package}", "{package2}":
			n := 0
			if m == "{package2}" {
				n = 1
			}
			if n < len(h.plan.Packages) {
				return h.plan.Packages[n]
			}
		case "{upgrade_ref}":
			return h.plan.UpgradeRef
		}
		v, ok, ferr := h.fam.Placeholder(ctx, m)
		if ferr != nil {
			err = ferr
		}
		if !ok || ferr != nil {
			return m
		}
		return v
	})
	return out, err
}

func (h *hostRun) expandAll(ctx context.Context, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s == "{ostree_rollback}" {
			out = append(out, family.RollbackArgv()...)
			continue
		}
		v, err := h.expand(ctx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// runCommand runs a deployment command and checks that it left the
// deployment the plan asked for as the default.
func (h *hostRun) runCommand(ctx context.Context, a plan.Action) (string, error) {
	argv, err := h.expandAll(ctx, a.Command)
	if err != nil {
		return "", err
	}
	var before *family.Status
	if a.Changes != "" {
		if before, _, err = h.fam.Status(ctx); err != nil {
			return "", err
		}
	}
	shown := transport.DisplayArgv(argv)
	if _, err := h.run(ctx, orDefault(a.Timeout.Duration, h.opts.CommandTimeout), argv...); err != nil {
		return "", err
	}
	if a.Changes != "" || a.DeploymentChange {
		h.noteChange(ctx, argv)
	}
	if a.Changes == "" {
		return "ran " + shown, nil
	}
	after, _, err := h.fam.Status(ctx)
	if err != nil {
		return "", err
	}
	def, booted := after.Default(), before.Booted()
	if def == nil {
		return "", fmt.Errorf("after `%s` the host shows no deployments", shown)
	}
	if booted != nil && def.Checksum == booted.Checksum && def.Serial == booted.Serial && def.OSName == booted.OSName {
		return "", fmt.Errorf("after `%s` the default deployment is still the booted %s: nothing to boot into", shown, family.Describe(def))
	}
	switch a.Changes {
	case plan.ChangeUpgrade, plan.ChangeOlder:
		if err := h.fam.Verify(ctx, a.Changes, def); err != nil {
			return "", fmt.Errorf("after `%s`: %w", shown, err)
		}
	case plan.ChangeRollback:
		want := before.Rollback()
		if want == nil {
			return "", fmt.Errorf("`%s`: there was no rollback deployment to go to", shown)
		}
		if def.Checksum != want.Checksum {
			return "", fmt.Errorf("after `%s` the default deployment is %s, expected the rollback deployment %s", shown, family.Describe(def), family.Describe(want))
		}
	case plan.ChangeInstall:
		for _, p := range h.plan.Packages {
			if slices.Contains(argv[1:], p) && !family.HasPackage(def, p) {
				return "", fmt.Errorf("after `%s` the default deployment %s does not layer %s (it layers %v)", shown, family.Describe(def), p, def.LayeredPackages)
			}
		}
	case plan.ChangeRebase:
		// The refspec the command rebased to is its last argument.
		if want := argv[len(argv)-1]; def.Refspec != want {
			return "", fmt.Errorf("after `%s` the default deployment %s follows %q, expected %q", shown, family.Describe(def), def.Refspec, want)
		}
	case plan.ChangeUninstall:
		for _, p := range h.plan.Packages {
			if slices.Contains(argv[1:], p) && family.HasPackage(def, p) {
				return "", fmt.Errorf("after `%s` the default deployment %s still layers %s", shown, family.Describe(def), p)
			}
		}
	}
	h.fam.Deployed() // a deploy changes what "older" means
	return fmt.Sprintf("ran %s; next boot: %s", shown, family.Describe(def)), nil
}

// expect leaves the expectation for the next boot on the host with
// `atomic-selftest expect`: the default deployment's checksum plus the
// packages the action names.
func (h *hostRun) expect(ctx context.Context, a plan.Action, sr *report.StepReport) (string, error) {
	st, _, err := h.fam.Status(ctx)
	if err != nil {
		return "", err
	}
	def := st.Default()
	if def == nil {
		return "", errors.New("the host shows no deployments")
	}
	pk, err := h.expandAll(ctx, a.Packages)
	if err != nil {
		return "", err
	}
	absent, err := h.expandAll(ctx, a.AbsentPackages)
	if err != nil {
		return "", err
	}
	argv := []string{h.opts.Selftest, "expect", "--checksum", def.Checksum}
	for _, p := range pk {
		argv = append(argv, "--package", p)
	}
	for _, p := range absent {
		argv = append(argv, "--absent-package", p)
	}
	if _, err := h.run(ctx, expectTimeout, argv...); err != nil {
		return "", err
	}
	h.expected = &record.Expectation{Checksum: def.Checksum, Version: def.Version, Packages: pk, AbsentPackages: absent,
		Created: time.Now().UTC(), CreatedBootID: h.bootID}
	sr.Expected = h.expected
	return "next boot must be " + family.Describe(def), nil
}

// expectTimeout bounds `atomic-selftest expect` on the host. It writes
// under the results lock, which the run a deployment change just started
// (atomic-selftest-deployment.path) may hold for a whole run; the host
// waits for it up to results.lock_timeout (5 min by default), so the
// driver waits a little longer than that.
const expectTimeout = 6 * time.Minute

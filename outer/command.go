package outer

// Deployment commands: placeholders filled in, the command run, its
// effect on the default deployment checked.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
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
	}
	h.fam.Deployed() // a deploy changes what "older" means
	return fmt.Sprintf("ran %s; next boot: %s", shown, family.Describe(def)), nil
}

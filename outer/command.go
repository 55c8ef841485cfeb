package outer

// Deployment commands: placeholders filled in, the command run, its
// effect on the default deployment checked.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// expand fills the placeholders of one argument.
func (h *hostRun) expand(ctx context.Context, s string) (string, error) {
	if !strings.Contains(s, "{") {
		return s, nil
	}
	var err error
	out := holder.ReplaceAllStringFunc(s, func(m string) string {
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
		case "{upgrade_version}":
			if h.upgrade != nil {
				return h.upgrade.Version
			}
			err = errors.New("{upgrade_version}: no upgrade-source action ran before")
		case "{older_version}", "{older_checksum}":
			o, oerr := h.olderCommit(ctx)
			if oerr != nil {
				err = oerr
				return m
			}
			if m == "{older_checksum}" {
				return o.Checksum
			}
			if o.Version == "" {
				err = fmt.Errorf("the older commit %s has no version label", record.Short(o.Checksum))
			}
			return o.Version
		}
		return m
	})
	return out, err
}

func (h *hostRun) expandAll(ctx context.Context, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s == "{ostree_rollback}" {
			out = append(out, RollbackArgv()...)
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
func (h *hostRun) runCommand(ctx context.Context, a Action) (string, error) {
	argv, err := h.expandAll(ctx, a.Command)
	if err != nil {
		return "", err
	}
	var before *Status
	if a.Changes != "" {
		if before, _, err = h.status(ctx); err != nil {
			return "", err
		}
	}
	shown := displayArgv(argv)
	if _, err := h.run(ctx, orDefault(a.Timeout.Duration, h.opts.CommandTimeout), argv...); err != nil {
		return "", err
	}
	if a.Changes != "" || a.DeploymentChange {
		h.noteChange(ctx, argv)
	}
	if a.Changes == "" {
		return "ran " + shown, nil
	}
	after, _, err := h.status(ctx)
	if err != nil {
		return "", err
	}
	def, booted := after.Default(), before.Booted()
	if def == nil {
		return "", fmt.Errorf("after `%s` the host shows no deployments", shown)
	}
	if booted != nil && def.Checksum == booted.Checksum && def.Serial == booted.Serial && def.OSName == booted.OSName {
		return "", fmt.Errorf("after `%s` the default deployment is still the booted %s: nothing to boot into", shown, Describe(def))
	}
	switch a.Changes {
	case ChangeUpgrade:
		if u := h.bootcUpgrade; u != nil && h.plan.Family == "bootc" {
			if def.ImageDigest != u.Digest {
				return "", fmt.Errorf("after `%s` the default deployment is %s image %s, expected the upgrade source's %s %s (%s)",
					shown, Describe(def), def.ImageDigest, u.Ref, u.Digest, u.Version)
			}
			break
		}
		if h.upgrade != nil && def.Checksum != h.upgrade.Checksum && def.BaseChecksum != h.upgrade.Checksum {
			return "", fmt.Errorf("after `%s` the default deployment is %s, expected the upgrade source's commit %s (%s)",
				shown, Describe(def), record.Short(h.upgrade.Checksum), h.upgrade.Version)
		}
	case ChangeRollback:
		want := before.Rollback()
		if want == nil {
			return "", fmt.Errorf("`%s`: there was no rollback deployment to go to", shown)
		}
		if def.Checksum != want.Checksum {
			return "", fmt.Errorf("after `%s` the default deployment is %s, expected the rollback deployment %s", shown, Describe(def), Describe(want))
		}
	case ChangeOlder:
		if h.plan.Family == "bootc" {
			// The older image is the one booted before the first upgrade
			// source, copied to containers-storage (whether the copy
			// keeps the registry's digest is not known here, so only
			// the reference is compared).
			if want := "containers-storage:" + BootcBaseImage; def.ImageReference != want {
				return "", fmt.Errorf("after `%s` the default deployment is %s of %s, expected one of %s", shown, Describe(def), def.ImageReference, want)
			}
			break
		}
		o, err := h.olderCommit(ctx)
		if err != nil {
			return "", err
		}
		if def.Checksum != o.Checksum && def.BaseChecksum != o.Checksum {
			return "", fmt.Errorf("after `%s` the default deployment is %s, expected the older commit %s (%s)", shown, Describe(def), record.Short(o.Checksum), o.Version)
		}
	case ChangeInstall:
		for _, p := range h.plan.Packages {
			if slices.Contains(argv[1:], p) && !hasPackage(def, p) {
				return "", fmt.Errorf("after `%s` the default deployment %s does not layer %s (it layers %v)", shown, Describe(def), p, def.LayeredPackages)
			}
		}
	}
	h.older = nil // a deploy changes what "older" means
	return fmt.Sprintf("ran %s; next boot: %s", shown, Describe(def)), nil
}

package outer

// The bootc plan's upgrade source: a container image the driver builds on
// the host from the booted one, in the host's containers-storage.

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Images of the bootc plan, in containers-storage (podman's store).
const (
	// BootcBaseImage is where `bootc image copy-to-storage` puts the
	// booted image when given no --target (bootc-dev/bootc
	// crates/lib/src/cli.rs, ImageOpts::CopyToStorage: "the default is
	// to push to containers-storage:localhost/bootc").
	BootcBaseImage = "localhost/bootc"
	// BootcUpgradeImage is the upgrade source the driver builds from it.
	BootcUpgradeImage = "localhost/atomic-selftest-upgrade:latest"
)

// bootcImage is an image the driver built: its reference in
// containers-storage, digest and version label.
type bootcImage struct {
	Ref, Digest, Version string
}

// bootcUpgradeSource makes the upgrade source of a bootc host: the booted
// image copied to containers-storage (`bootc image copy-to-storage`),
// and on top of it an image with the marker file and a new version label
// (`podman build`), tagged BootcUpgradeImage. The first time, the host is
// pointed at it with `bootc switch --transport containers-storage`
// (bootc-switch.8.md; cli.rs SwitchOpts --transport), which stages that
// image, and a second image is built on top, so that the plan's
// `bootc upgrade` has a newer digest to fetch from the reference it
// follows. bootc reads the version from the image's
// org.opencontainers.image.version label (crates/lib/src/status.rs).
func (h *hostRun) bootcUpgradeSource(ctx context.Context) (string, error) {
	st, b, err := h.booted(ctx)
	if err != nil {
		return "", err
	}
	if h.bootcBase == "" {
		if _, err := h.run(ctx, h.opts.CommandTimeout, "bootc", "image", "copy-to-storage"); err != nil {
			return "", err
		}
		h.bootcBase = b.ImageDigest
	}
	build := func() (*bootcImage, error) {
		h.bootcBuilds++
		version := fmt.Sprintf("%s.selftest.%d", orString(selftestSuffix.ReplaceAllString(b.Version, ""), "0"), h.bootcBuilds)
		dir := fmt.Sprintf("/var/tmp/atomic-selftest-outer.bootc.%d", h.bootcBuilds)
		if _, err := h.run(ctx, time.Minute, "mkdir", "-p", dir); err != nil {
			return nil, err
		}
		defer h.m.Run(context.WithoutCancel(ctx), time.Minute, "rm", "-rf", "--", dir)
		cf := fmt.Sprintf("FROM %s\nRUN mkdir -p /usr/share/atomic-selftest && echo %s > /usr/share/atomic-selftest/upgrade-marker\nLABEL org.opencontainers.image.version=%q\n",
			BootcBaseImage, version, version)
		if err := h.m.WriteFile(ctx, dir+"/Containerfile", []byte(cf), 0o644); err != nil {
			return nil, err
		}
		if _, err := h.run(ctx, h.opts.CommandTimeout, "podman", "build", "--tag", BootcUpgradeImage, dir); err != nil {
			return nil, err
		}
		out, err := h.run(ctx, time.Minute, "podman", "image", "inspect", "--format", "{{.Digest}}", BootcUpgradeImage)
		if err != nil {
			return nil, err
		}
		return &bootcImage{Ref: "containers-storage:" + BootcUpgradeImage, Digest: strings.TrimSpace(string(out)), Version: version}, nil
	}
	img, err := build()
	if err != nil {
		return "", err
	}
	if def := st.Default(); def == nil || def.ImageReference != img.Ref {
		if _, err := h.run(ctx, h.opts.CommandTimeout, "bootc", "switch", "--transport", "containers-storage", BootcUpgradeImage); err != nil {
			return "", err
		}
		if img, err = build(); err != nil {
			return "", err
		}
	}
	h.bootcUpgrade = img
	return fmt.Sprintf("built %s %s (%s)", img.Ref, img.Version, img.Digest), nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// BootcPlan is the profile for bootc hosts: `bootc upgrade` to an image
// the driver builds on the host, `bootc switch` to the image booted before
// (the older one), `bootc rollback` back to the upgrade; each judged by
// `bootc status` before and after and by the next boot's self-test. It is
// proved against simulated hosts only, not on a real bootc host.
func BootcPlan() *Plan {
	return &Plan{
		Name:   "bootc",
		Family: "bootc",
		// Unused by the bootc plan; what Validate would fill in.
		UpgradeRef: "atomic-selftest/upgrade",
		Steps: []Step{
			baseline(),
			cycle("bootc-upgrade", "C3", []Action{{Do: ActUpgradeSource}}, []string{"bootc", "upgrade"}, ChangeUpgrade, Action{}),
			cycle("bootc-switch", "C5", nil, []string{"bootc", "switch", "--transport", "containers-storage", BootcBaseImage}, ChangeOlder, Action{}),
			cycle("bootc-rollback", "C4", nil, []string{"bootc", "rollback"}, ChangeRollback, Action{}),
		},
	}
}

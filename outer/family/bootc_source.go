package family

// The bootc family. Its upgrade source: a container image the driver builds on
// the host from the booted one, in the host's containers-storage.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Images of the bootc plan, in containers-storage (podman's store).
const (
	// BootcBaseImage is where `bootc image copy-to-storage` puts the
	// booted image (plan.BootcBaseImage, which the bootc plan switches
	// back to).
	BootcBaseImage = plan.BootcBaseImage
	// BootcUpgradeImage is the upgrade source the driver builds from it.
	BootcUpgradeImage = "localhost/atomic-selftest-upgrade:latest"
)

// bootcFamily is bootc hosts. It embeds tree for the ostree-history
// placeholders ({older_*}), which a plan for a bootc host may still use.
type bootcFamily struct {
	tree
	// The images: the booted digest before the first upgrade source,
	// how many images were built, the last one.
	base    string
	builds  int
	upgrade *bootcImage
}

// Placeholder: {upgrade_version} is the last image built; the others
// are the ostree history's (tree).
func (f *bootcFamily) Placeholder(ctx context.Context, name string) (string, bool, error) {
	if name == "{upgrade_version}" && f.upgrade != nil {
		return f.upgrade.Version, true, nil
	}
	return f.tree.Placeholder(ctx, name)
}

// Verify: after an upgrade the default deployment is the last image
// built; after a switch to the older one, the image booted before the
// first upgrade source, copied to containers-storage (whether the copy
// keeps the registry's digest is not known here, so only the reference
// is compared).
func (f *bootcFamily) Verify(ctx context.Context, change string, def *record.Deployment) error {
	switch change {
	case plan.ChangeUpgrade:
		if u := f.upgrade; u != nil && def.ImageDigest != u.Digest {
			return fmt.Errorf("the default deployment is %s image %s, expected the upgrade source's %s %s (%s)",
				Describe(def), def.ImageDigest, u.Ref, u.Digest, u.Version)
		}
	case plan.ChangeOlder:
		if want := "containers-storage:" + BootcBaseImage; def.ImageReference != want {
			return fmt.Errorf("the default deployment is %s of %s, expected one of %s", Describe(def), def.ImageReference, want)
		}
	}
	return nil
}

// bootcImage is an image the driver built: its reference in
// containers-storage, digest and version label.
type bootcImage struct {
	Ref, Digest, Version string
}

// UpgradeSource makes the upgrade source of a bootc host: the booted
// image copied to containers-storage (`bootc image copy-to-storage`),
// and on top of it an image with the marker file and a new version label
// (`podman build`), tagged BootcUpgradeImage. The first time, the host is
// pointed at it with `bootc switch --transport containers-storage`
// (bootc-switch.8.md; cli.rs SwitchOpts --transport), which stages that
// image, and a second image is built on top, so that the plan's
// `bootc upgrade` has a newer digest to fetch from the reference it
// follows. bootc reads the version from the image's
// org.opencontainers.image.version label (crates/lib/src/status.rs).
func (f *bootcFamily) UpgradeSource(ctx context.Context) (string, error) {
	st, b, err := f.booted(ctx)
	if err != nil {
		return "", err
	}
	if f.base == "" {
		if _, err := f.run(ctx, f.CommandTimeout, "bootc", "image", "copy-to-storage"); err != nil {
			return "", err
		}
		f.base = b.ImageDigest
	}
	build := func() (*bootcImage, error) {
		f.builds++
		version := fmt.Sprintf("%s.selftest.%d", orString(selftestSuffix.ReplaceAllString(b.Version, ""), "0"), f.builds)
		dir := fmt.Sprintf("/var/tmp/atomic-selftest-outer.bootc.%d", f.builds)
		if _, err := f.run(ctx, time.Minute, "mkdir", "-p", dir); err != nil {
			return nil, err
		}
		defer f.Machine.Run(context.WithoutCancel(ctx), time.Minute, "rm", "-rf", "--", dir)
		cf := fmt.Sprintf("FROM %s\nRUN mkdir -p /usr/share/atomic-selftest && echo %s > /usr/share/atomic-selftest/upgrade-marker\nLABEL org.opencontainers.image.version=%q\n",
			BootcBaseImage, version, version)
		if err := f.Machine.WriteFile(ctx, dir+"/Containerfile", []byte(cf), 0o644); err != nil {
			return nil, err
		}
		if _, err := f.run(ctx, f.CommandTimeout, "podman", "build", "--tag", BootcUpgradeImage, dir); err != nil {
			return nil, err
		}
		out, err := f.run(ctx, time.Minute, "podman", "image", "inspect", "--format", "{{.Digest}}", BootcUpgradeImage)
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
		if _, err := f.run(ctx, f.CommandTimeout, "bootc", "switch", "--transport", "containers-storage", BootcUpgradeImage); err != nil {
			return "", err
		}
		if img, err = build(); err != nil {
			return "", err
		}
	}
	f.upgrade = img
	return fmt.Sprintf("built %s %s (%s)", img.Ref, img.Version, img.Digest), nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

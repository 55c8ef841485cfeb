package syscontainer

import (
	"context"
	"fmt"
	"os/exec"
	"path"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/syscontainerfmt"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "syscontainer.atomic",
		Criterion:   "C10",
		Required:    false,
		Description: "with syscontainer.image set: atomic pull --storage ostree, atomic install --system, systemctl start (active within syscontainer.start_timeout), atomic uninstall",
		Timeout:     30 * time.Minute,
		Applies:     atomicApplies,
		Run:         checkAtomic,
	})
}

// atomicTimeout bounds each atomic CLI command; a pull from a registry is
// the slow one.
const atomicTimeout = 10 * time.Minute

func atomicApplies(_ context.Context, h *selftest.RunContext) string {
	cfg := h.Config.Syscontainer
	if cfg.Image == "" {
		return "not configured: set syscontainer.image (and syscontainer.name) to run the atomic CLI's pull, install and start"
	}
	if !h.SystemdBooted() {
		return "systemd is not PID 1: system containers run as systemd services"
	}
	if _, err := exec.LookPath("atomic"); err != nil {
		return "the atomic CLI is not installed"
	}
	return ""
}

// checkAtomic runs the sequence the release criterion names, with the
// atomic CLI itself: pull into ostree storage, install as a system
// container, start its service, see it active, uninstall. The image is
// deleted again only if this check pulled it.
func checkAtomic(ctx context.Context, t *selftest.T) {
	h := t.RunContext
	cfg := h.Config.Syscontainer
	name, image := cfg.Name, cfg.Image
	if _, err := h.Lstat(path.Join(cfg.CheckoutDir, name)); err == nil {
		t.Error("a system container named %s is already installed; set syscontainer.name to a name the self-test may install and remove", name)
		return
	}
	repos := ostreeRepos(h.Host, cfg.OstreeRepo, cfg.CheckoutDir)
	_, had := findImageRef(h.Host, repos, image)
	pulledHere := had != nil
	step := func(what string, timeout time.Duration, argv ...string) bool {
		start := time.Now()
		_, err := h.Run(ctx, timeout, argv...)
		seen := fmt.Sprintf("ok in %.1f s", time.Since(start).Seconds())
		if err != nil {
			seen = err.Error()
		}
		t.Evidence(what, "succeeds", seen)
		if err != nil {
			t.Fail("%s failed: %v", what, err)
			return false
		}
		return true
	}
	if !step("atomic pull", atomicTimeout, "atomic", "pull", "--storage", "ostree", image) {
		return
	}
	if pulledHere {
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, _ = h.Run(cctx, time.Minute, "atomic", "images", "delete", "--storage", "ostree", "--force", image)
		})
	}
	uninstalled := false
	t.Cleanup(func() {
		if uninstalled {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, _ = h.Run(cctx, 2*time.Minute, "atomic", "uninstall", name)
	})
	if !step("atomic install --system", atomicTimeout, "atomic", "install", "--system", "--name", name, image) {
		return
	}
	if ref, err := findImageRef(h.Host, repos, image); err != nil {
		t.Fail("after atomic pull: %v", err)
		return
	} else {
		t.Evidence("image in ostree storage", "ref "+syscontainerfmt.OciImagePrefix+syscontainerfmt.EncodeOstreeRef(image), ref)
	}
	unit := name + ".service"
	if !step("systemctl start "+unit, cfg.StartTimeout.D(), "systemctl", "start", unit) {
		return
	}
	sd, err := h.Systemd(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	u, err := waitActive(ctx, sd, unit, cfg.StartTimeout.D())
	t.Evidence("unit "+unit, "active", u.ActiveState+" ("+u.SubState+")")
	if err != nil {
		t.Fail("%v", err)
		return
	}
	if why := runcAlive(h, name); why != "" {
		t.Fail("%s is active but %s", unit, why)
		return
	}
	if !step("atomic uninstall", atomicTimeout, "atomic", "uninstall", name) {
		return
	}
	uninstalled = true
	if _, err := h.Lstat(path.Join(cfg.CheckoutDir, name)); err == nil {
		t.Fail("atomic uninstall left %s behind", path.Join(cfg.CheckoutDir, name))
		return
	}
	t.Pass("%s pulled into ostree storage, installed as %s, started (active) and uninstalled", image, name)
}

// waitActive polls a unit until it is active, failed, or timeout passes.
func waitActive(ctx context.Context, sd selftest.Systemd, unit string, timeout time.Duration) (selftest.UnitState, error) {
	deadline := time.Now().Add(timeout)
	for {
		u, err := sd.Unit(ctx, unit)
		if err != nil {
			return u, err
		}
		switch u.ActiveState {
		case "active":
			return u, nil
		case "failed":
			return u, fmt.Errorf("unit %s failed (%s)", unit, u.Result)
		}
		if time.Now().After(deadline) {
			return u, fmt.Errorf("unit %s is still %s after %s", unit, u.ActiveState, timeout)
		}
		select {
		case <-ctx.Done():
			return u, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

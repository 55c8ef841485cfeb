package health

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

// rpmOstree drives rpm-ostree's `rollback` verb, the one `atomic host
// rollback` runs too. The CLI is a client of rpmostreed's D-Bus API
// (coreos/rpm-ostree src/daemon/org.projectatomic.rpmostree1.xml:
// org.projectatomic.rpmostree1.OS.Rollback(a{sv} options) → s
// transaction_address, then Transaction.Start and its Finished(b, s)
// signal on that peer address, as src/app/rpmostree-clientlib.cxx does);
// going through the CLI keeps the transaction handling, polkit and the
// bootloader update in rpm-ostree's hands. The host is rpm-ostree-managed
// when `rpm-ostree status --json` lists a booted deployment
// (src/app/rpmostree-builtin-status.cxx: "deployments"[].booted).
type rpmOstree struct {
	cmd selftest.Commander
}

func (rpmOstree) Name() string { return "rpm-ostree" }

func (r rpmOstree) manages(ctx context.Context) (bool, error) {
	if _, err := exec.LookPath("rpm-ostree"); err != nil {
		return false, nil
	}
	out, _, err := r.cmd.Command(ctx, detectTimeout, "rpm-ostree", "status", "--json")
	if err != nil {
		return false, fmt.Errorf("asking rpm-ostree whether it manages this host: %w", err)
	}
	var st struct {
		Deployments []struct {
			Booted bool `json:"booted"`
		} `json:"deployments"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return false, fmt.Errorf("rpm-ostree status --json: %w", err)
	}
	for _, d := range st.Deployments {
		if d.Booted {
			return true, nil
		}
	}
	return false, nil
}

func (r rpmOstree) Rollback(ctx context.Context) error {
	if _, _, err := r.cmd.Command(ctx, rollbackTimeout, "rpm-ostree", "rollback"); err != nil {
		return fmt.Errorf("rpm-ostree rollback: %w", err)
	}
	return nil
}

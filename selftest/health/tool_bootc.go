package health

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

// bootc drives bootc by fork/exec, its stable interface (bootc has no
// D-Bus API; bootc-dev/bootc docs/src/bootc-via-api.md). A host is
// bootc-managed when `bootc status --format=json --format-version=1`
// reports a booted entry: .status.booted is not null
// (docs/src/man/bootc-status.8.md; the schema is crates/lib/src/spec.rs,
// HostStatus.booted: Option<BootEntry>). `bootc rollback` swaps the
// booted and rollback deployments for the next boot
// (docs/src/man/bootc-rollback.8.md, crates/lib/src/deploy.rs).
type bootc struct {
	cmd selftest.Commander
}

func (bootc) Name() string { return "bootc" }

// bootcHost is the part of bootc's Host (spec.rs) read here.
type bootcHost struct {
	Status struct {
		Booted json.RawMessage `json:"booted"`
	} `json:"status"`
}

func (b bootc) manages(ctx context.Context) (bool, error) {
	if _, err := exec.LookPath("bootc"); err != nil {
		return false, nil
	}
	out, _, err := b.cmd.Command(ctx, detectTimeout, "bootc", "status", "--format=json", "--format-version=1")
	if err != nil {
		return false, fmt.Errorf("asking bootc whether it manages this host: %w", err)
	}
	var h bootcHost
	if err := json.Unmarshal(out, &h); err != nil {
		return false, fmt.Errorf("bootc status --format=json: %w", err)
	}
	return len(h.Status.Booted) > 0 && string(h.Status.Booted) != "null", nil
}

func (b bootc) Rollback(ctx context.Context) error {
	if _, _, err := b.cmd.Command(ctx, rollbackTimeout, "bootc", "rollback"); err != nil {
		return fmt.Errorf("bootc rollback: %w", err)
	}
	return nil
}

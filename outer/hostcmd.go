package outer

// Running commands on a host and reading its deployments through its
// family.

import (
	"context"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

// run runs argv on the host; a non-zero exit is an error that quotes the
// command's last words.
func (h *hostRun) run(ctx context.Context, timeout time.Duration, argv ...string) ([]byte, error) {
	return transport.Output(ctx, h.m, timeout, argv...)
}

// setPlan makes p the host's plan and binds its family to the host.
func (h *hostRun) setPlan(p *plan.Plan) error {
	fam, err := family.New(p.HostFamily(), family.Config{Machine: h.m, Repo: h.opts.Repo, UpgradeRef: p.UpgradeRef, CommandTimeout: h.opts.CommandTimeout})
	if err != nil {
		return err
	}
	h.plan, h.fam = p, fam
	return nil
}

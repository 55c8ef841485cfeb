package outer

import (
	"context"
	"errors"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

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

package outer

// Preflight: what a host has before the plan asks anything of it.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

// DeploymentTools are the commands a plan step may deploy with, and
// ContainerEngines the runtimes the self-test drives; preflight looks for
// each on the host's PATH.
var (
	DeploymentTools  = []string{"bootc", "rpm-ostree", "atomic", "ostree"}
	ContainerEngines = []string{"docker", "podman"}
)

// preflightScript prints each of its arguments that is a command on the
// host's PATH. The names arrive as positional parameters, never inside
// the script.
const preflightScript = `for t do command -v -- "$t" >/dev/null 2>&1 && echo "$t"; done; exit 0`

// preflight asks the host which deployment tools, engines and self-test
// it has, in two commands.
func (h *hostRun) preflight(ctx context.Context) (*report.Preflight, error) {
	argv := append([]string{"sh", "-c", preflightScript, "sh"}, DeploymentTools...)
	argv = append(append(argv, ContainerEngines...), h.opts.Selftest)
	out, err := h.run(ctx, time.Minute, argv...)
	if err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	p := &report.Preflight{Tools: []string{}, Engines: []string{}}
	for _, l := range strings.Fields(string(out)) {
		switch {
		case slices.Contains(DeploymentTools, l):
			p.Tools = append(p.Tools, l)
		case slices.Contains(ContainerEngines, l):
			p.Engines = append(p.Engines, l)
		case l == h.opts.Selftest:
			if v, err := h.run(ctx, time.Minute, h.opts.Selftest, "version"); err == nil {
				p.Selftest = transport.LastLine(v)
			} else {
				p.Selftest = "installed (version unknown)"
			}
		}
	}
	return p, nil
}

// notApplicable says why step s cannot run on a host with pre: a
// deployment command whose tool the host lacks. It names the plan that
// fits the host, in the caller's words (Options.PlanHint).
func (h *hostRun) notApplicable(s plan.Step) string {
	pre := h.pre
	if pre == nil {
		return ""
	}
	for _, a := range s.Actions {
		if a.Do != plan.ActRun || len(a.Command) == 0 || !slices.Contains(DeploymentTools, a.Command[0]) || pre.Has(a.Command[0]) {
			continue
		}
		msg := report.NotApplicable + ": no " + a.Command[0]
		if fit := FitPlan(pre); fit != "" && fit != h.plan.Name && h.opts.PlanHint != nil {
			msg += " — " + h.opts.PlanHint(fit)
		}
		return msg
	}
	return ""
}

// notForFamily says why step s is not applicable to the host's plan: a
// step for other host families (plan.Step.Families), such as layering in
// the plain ostree plan. The host's missing tool comes first where that
// is the reason too.
func (h *hostRun) notForFamily(s plan.Step) string {
	fam := h.plan.HostFamily()
	if len(s.Families) == 0 || slices.Contains(s.Families, fam) {
		return ""
	}
	why := fmt.Sprintf("%s needs the %s family; plan %s is for %s hosts", s.Name, strings.Join(s.Families, " or "), h.plan.Name, fam)
	for _, a := range s.Actions {
		if a.Do == plan.ActRun && len(a.Command) > 0 && h.pre != nil && slices.Contains(DeploymentTools, a.Command[0]) && !h.pre.Has(a.Command[0]) {
			return fmt.Sprintf("%s: no %s (%s)", report.NotApplicable, a.Command[0], why)
		}
	}
	return report.NotApplicable + ": " + why
}

// fit makes the host's plan fit what its preflight found. The auto
// profile becomes the built-in plan FitPlan names (keeping packages the
// caller set); any other plan must find its family's tool on the host,
// else the host fails here, once, with the sentence that names the
// missing tool and the plan to use instead.
func (h *hostRun) fit(pre *report.Preflight) error {
	if h.plan.Auto {
		name := FitPlan(pre)
		if name == "" {
			return fmt.Errorf("preflight: no built-in plan fits this host: it has none of rpm-ostree, ostree (deployment tools: %s)", pre.String())
		}
		p := plan.Profiles[name]()
		if len(p.Packages) > 0 && len(h.plan.Packages) > 0 {
			p.Packages = h.plan.Packages
		}
		if err := h.setPlan(p); err != nil {
			return err
		}
		h.emit("preflight", "", StatusInfo, "plan: "+name, time.Now())
		return nil
	}
	if tool := h.fam.Tool(); !pre.Has(tool) {
		msg := report.NotApplicable + ": no " + tool
		if fit := FitPlan(pre); fit != "" && fit != h.plan.Name && h.opts.PlanHint != nil {
			msg += " — " + h.opts.PlanHint(fit)
		}
		return &misfitError{msg}
	}
	return nil
}

// misfitError is a plan that cannot run on the host: the step it shows in
// fails and every later step is not run.
type misfitError struct{ msg string }

func (e *misfitError) Error() string { return "preflight: " + e.msg }

// FitPlan is the name of the built-in plan for a host with the preflight
// p, or "" when none fits (plan.Fit).
func FitPlan(p *report.Preflight) string { return plan.Fit(p.Has) }

package outer

import (
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// The names callers of Run have used since the plan and the reports were
// packages of their own (outer/plan, outer/report): outer/qemu's VM tests
// and the end-to-end run drive hosts with them.
type (
	// Plan is plan.Plan.
	Plan = plan.Plan
	// Step is plan.Step.
	Step = plan.Step
	// Report is report.Report, what Run returns.
	Report = report.Report
	// HostDeployment is a deployment in a StepReport: the run record's
	// model of it.
	HostDeployment = record.Deployment
)

// Step statuses (report.StepPass, ...).
const (
	StepPass        = report.StepPass
	StepFail        = report.StepFail
	StepError       = report.StepError
	StepNotRun      = report.StepNotRun
	StepInterrupted = report.StepInterrupted
)

var (
	// LoadPlan is plan.Load.
	LoadPlan = plan.Load
	// DefaultPlan is plan.Default.
	DefaultPlan = plan.Default
)

package selftest

import (
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// RunContext is one run of the checks: the machine it looks at and what
// the run brings to it. A check reaches it through its *T (t.Config,
// t.History, t.Host) and its applicability test gets it whole. The
// session fills it before the checks start; checks only read it.
type RunContext struct {
	// Host is the machine. It is embedded so the context reads files and
	// runs commands as the host does (rc.ReadFile, rc.Run).
	*Host
	// Config is the merged configuration (vendor, then admin overrides).
	Config *config.Config
	// Version is the tool's version, for probes that report it.
	Version string
	// History is what earlier runs left for this one, read once by the
	// session; checks never open the results directory themselves.
	History History
	// Trigger is why the run happens (record.TriggerBoot, ...), and
	// ResultsDir where its record goes: the site's checks are told both,
	// and host.boot judges a deadline run by the jobs the boot still
	// waits for. Trigger is "" in tests that do not say.
	Trigger    string
	ResultsDir string
	// ProbeBinary is the static binary the container probes run; empty
	// means the running executable (see selftest/probe).
	ProbeBinary string
}

// NewRunContext returns the context of a run on h with cfg (the defaults
// when nil) and no history.
func NewRunContext(h *Host, cfg *config.Config) *RunContext {
	if cfg == nil {
		cfg = config.Defaults()
	}
	return &RunContext{Host: h, Config: cfg}
}

// History is what earlier runs in the results directory left for this
// run. The session reads it once, under the results lock (without it and
// read-only under --no-save), before checks start.
type History struct {
	// LastDeployment is the booted deployment the last run on an earlier
	// boot saw, and LastBootID that boot's id; nil on a first boot.
	LastDeployment *record.Deployment
	LastBootID     string
	// LastAction is the health action the last boot's runs took (the
	// newest Health whose action is not "record": a rollback, a reboot, a
	// refusal), and LastActionRecord the ID of the run record carrying it;
	// nil and "" when that boot did nothing. deployment.transition names
	// a rollback atomic-selftest ordered by it.
	LastAction       *record.Health
	LastActionRecord string
	// Expectation is the expectation the outer driver left, when it
	// applies to this boot (it was left on another boot); nil otherwise.
	Expectation *record.Expectation
}

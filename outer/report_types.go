package outer

// The report types: what one run of the driver found, as report.json
// carries it and the renderers read it.

import (
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Report is one run of the driver over all hosts.
type Report struct {
	Plan        string        `json:"plan"`
	Start       time.Time     `json:"start"`
	End         time.Time     `json:"end"`
	Interrupted bool          `json:"interrupted,omitempty"`
	OK          bool          `json:"ok"`
	Summary     Summary       `json:"summary"`
	Hosts       []*HostReport `json:"hosts"`
}

// Summary counts hosts and steps by outcome.
type Summary struct {
	Hosts   int            `json:"hosts"`
	HostsOK int            `json:"hosts_ok"`
	Steps   map[string]int `json:"steps"` // by status
}

// HostReport is one host's steps.
type HostReport struct {
	Host  string        `json:"host"`
	OK    bool          `json:"ok"`
	Steps []*StepReport `json:"steps"`
}

// StepReport is one step on one host.
type StepReport struct {
	Name        string    `json:"name"`
	Criterion   string    `json:"criterion,omitempty"`
	Status      string    `json:"status"`
	Message     string    `json:"message,omitempty"`
	Start       time.Time `json:"start"`
	DurationSec float64   `json:"duration_s"`
	// BootID is the boot the step ended on.
	BootID   string              `json:"boot_id,omitempty"`
	Before   *HostDeployment     `json:"booted_before,omitempty"`
	After    *HostDeployment     `json:"booted_after,omitempty"`
	Expected *record.Expectation `json:"expected,omitempty"`
	// Record is the host's run record of the step's boot.
	Record    *record.Record `json:"record,omitempty"`
	Actions   []ActionReport `json:"actions"`
	Artifacts string         `json:"artifacts,omitempty"`
	// Tail is the last lines of the console or journal when the step
	// failed, for the person reading the report.
	Tail []string `json:"tail,omitempty"`
}

// ActionReport is one action of a step.
type ActionReport struct {
	Do          string  `json:"do"`
	Status      string  `json:"status"`
	Message     string  `json:"message,omitempty"`
	DurationSec float64 `json:"duration_s"`
}

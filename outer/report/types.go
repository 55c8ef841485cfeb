package report

// The report types: what one run of the driver found, as report.json
// carries it and the renderers read it.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
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
	// CrossHost are the assertions across the hosts of the run
	// (machine-id.unique: two hosts booted from one image have
	// different machine-ids).
	CrossHost []Assertion `json:"cross_host,omitempty"`
}

// Summary counts hosts and steps by outcome.
type Summary struct {
	Hosts   int            `json:"hosts"`
	HostsOK int            `json:"hosts_ok"`
	Steps   map[string]int `json:"steps"` // by status
}

// HostReport is one host's steps.
type HostReport struct {
	Host string `json:"host"`
	// Plan is the plan the host ran: the run's, or with the auto profile
	// the one chosen for the host after its preflight.
	Plan  string        `json:"plan,omitempty"`
	OK    bool          `json:"ok"`
	Steps []*StepReport `json:"steps"`
	// Preflight is what the host had when it first answered.
	Preflight *Preflight `json:"preflight,omitempty"`
	// MachineID is the host's /etc/machine-id when it first answered,
	// for the cross-host assertion that no two hosts share one.
	MachineID string `json:"machine_id,omitempty"`
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
	Before   *record.Deployment  `json:"booted_before,omitempty"`
	After    *record.Deployment  `json:"booted_after,omitempty"`
	Expected *record.Expectation `json:"expected,omitempty"`
	// Record is the host's run record of the step's boot.
	Record    *record.Record `json:"record,omitempty"`
	Actions   []ActionReport `json:"actions"`
	Artifacts string         `json:"artifacts,omitempty"`
	// Tail is the last lines of the console or journal when the step
	// failed, for the person reading the report.
	Tail []string `json:"tail,omitempty"`
	// Timing is where the step's boot spent its time, once its run
	// record was read.
	Timing *StepTiming `json:"timing,omitempty"`
	// Pending are the host's deployment-change run records found after
	// the step's deployment commands, before its reboot (issue 16).
	Pending []*PendingReport `json:"before_reboot,omitempty"`
	// HostRollback is the host rejecting the step's deployment by
	// itself, for a step that expects it (issue 12).
	HostRollback *HostRollbackReport `json:"host_rollback,omitempty"`
	// Assertions are the driver's own assertions of the step (issue
	// 26): the carry-over markers and the deployment count.
	Assertions []Assertion `json:"assertions,omitempty"`
}

// Assertion is one thing the driver asserted of a host (or across
// hosts) from what it read there: a name ("carry.var", "deployments",
// "machine-id.unique"), a status (AssertPass, AssertFail, AssertNA),
// what it found and, on failure, the evidence.
type Assertion struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
	// Expected and Seen are the evidence of a failure (or of an
	// expected loss caught).
	Expected string `json:"expected,omitempty"`
	Seen     string `json:"seen,omitempty"`
}

// Assertion statuses.
const (
	AssertPass = "pass"
	AssertFail = "fail"
	// AssertNA is an assertion the host cannot support (no SELinux for
	// a label): it says why and is never counted as passed.
	AssertNA = "n/a"
)

// String is the assertion's report line.
func (a Assertion) String() string {
	s := fmt.Sprintf("%s %s: %s", a.Name, a.Status, a.Message)
	if a.Expected != "" || a.Seen != "" {
		s += fmt.Sprintf(" (expected %s; seen %s)", a.Expected, a.Seen)
	}
	return s
}

// HostRollbackReport is a host that rolled itself back: the boot whose
// self-test failed, its run record (with the health action), the reason,
// and how long from that boot's record to the next boot's.
type HostRollbackReport struct {
	FailedBootID string         `json:"failed_boot_id"`
	FailedRecord *record.Record `json:"failed_record"`
	// Reason is the failing checks with their messages, as the host's
	// health action names them.
	Reason string `json:"reason"`
	// From is the deployment the host rejected.
	From *record.Deployment `json:"from,omitempty"`
	// Reboots are the failing boots of the same deployment before
	// FailedBootID whose health action was a reboot ([health]
	// reboot_attempts), oldest first: the host gave the deployment
	// another boot before it rolled back.
	Reboots []HostReboot `json:"reboots,omitempty"`
	// RecoverSec is the driver's time from the first failing boot's
	// record found to the record of the boot after the rollback.
	RecoverSec float64 `json:"recover_s"`
}

// HostReboot is one failing boot after which the host rebooted the same
// deployment by itself.
type HostReboot struct {
	BootID string         `json:"boot_id"`
	Record *record.Record `json:"record"`
	Reason string         `json:"reason"`
}

// String is the reboot as the report's lines show it: the boot, the
// attempt of the health action and the run record.
func (r HostReboot) String() string {
	s := "boot " + record.Short(r.BootID)
	if r.Record != nil {
		if h := r.Record.Health; h != nil {
			s += fmt.Sprintf(" (attempt %d of %d)", h.Attempt, h.MaxAttempts)
		}
		s += " run record " + r.Record.ID
	}
	return s
}

// StepTiming is where a boot's time went: from the host's sshd answering
// (with the new boot id) to the self-test's start, the self-test's run,
// and how long after the record's end the driver had it. Start and end
// are the host's clock, the others the driver's: the figures are as good
// as the two clocks agree (a QEMU guest's follows its host).
type StepTiming struct {
	SSHUp       time.Time `json:"sshd_up,omitzero"`
	RecordStart time.Time `json:"record_start"`
	RecordEnd   time.Time `json:"record_end"`
	RecordSeen  time.Time `json:"record_seen"`
	// RecordSaved is the record file's mtime, by the host's clock.
	RecordSaved time.Time `json:"record_saved,omitzero"`
	// ClockOffsetSec is how far the host's clock was ahead of the
	// driver's (negative: behind), measured over one round trip; the
	// durations below are corrected by it.
	ClockOffsetSec float64 `json:"host_clock_offset_s,omitempty"`
	// SSHToStartSec and LagSec (from the record's save, or its end when
	// the file could not be read, to the driver holding it) are left out
	// for a record older than the driver's first contact (a baseline
	// step's boot).
	SSHToStartSec float64 `json:"sshd_to_start_s,omitempty"`
	RunSec        float64 `json:"run_s"`
	LagSec        float64 `json:"driver_lag_s,omitempty"`
	// Wait is how the driver learned of the record: WaitBlocking or
	// WaitPoll.
	Wait string `json:"wait,omitempty"`
}

// String is the timing for a progress line.
func (t *StepTiming) String() string {
	s := fmt.Sprintf("self-test %.1fs", t.RunSec)
	if !t.SSHUp.IsZero() {
		s = fmt.Sprintf("sshd→self-test %.1fs, %s, driver lag %.1fs", t.SSHToStartSec, s, t.LagSec)
	}
	if t.Wait != "" {
		s += " (" + t.Wait + ")"
	}
	return s
}

// ActionReport is one action of a step.
type ActionReport struct {
	Do          string  `json:"do"`
	Status      string  `json:"status"`
	Message     string  `json:"message,omitempty"`
	DurationSec float64 `json:"duration_s"`
}

// Step statuses in reports.
const (
	StepPass        = "pass"
	StepFail        = "fail"
	StepError       = "error"       // the driver could not do the step (host unreachable)
	StepNotRun      = "not-run"     // an earlier step left the host unusable
	StepInterrupted = "interrupted" // the driver was stopped
	// StepNotApplicable is a step the plan marks if_available whose tool
	// the host lacks: reported with the reason, neither passed nor
	// failing the host.
	StepNotApplicable = "n/a"
)

// NotApplicable begins the message of a step the host's tools rule out.
const NotApplicable = "not applicable on this host"

// Preflight is what the driver found on a host before its first step.
type Preflight struct {
	// Tools are the deployment tools present (bootc, rpm-ostree, atomic,
	// ostree), Engines the container engines.
	Tools   []string `json:"tools"`
	Engines []string `json:"engines"`
	// Selftest is the host self-test's version line; empty when it is
	// not installed.
	Selftest string `json:"selftest,omitempty"`
}

// Has reports whether the host has the command tool.
func (p *Preflight) Has(tool string) bool { return slices.Contains(p.Tools, tool) }

// String is the preflight for a progress line.
func (p *Preflight) String() string {
	none := func(l []string) string {
		if len(l) == 0 {
			return "none"
		}
		return strings.Join(l, ", ")
	}
	st := p.Selftest
	if st == "" {
		st = "not installed"
	}
	return fmt.Sprintf("deployment tools: %s; container engines: %s; self-test: %s", none(p.Tools), none(p.Engines), st)
}

// PendingCheck is the host's check that names and verifies the pending
// deployment in a deployment-change run.
const PendingCheck = "deployment.pending"

// PendingReport is the deployment-change run record found after a step's
// deployment commands, before its reboot.
type PendingReport struct {
	// Command is the last deployment command before the record.
	Command  string `json:"command"`
	RecordID string `json:"record_id,omitempty"`
	// Status and Message are the record's deployment.pending: what the
	// reboot will boot, and a missing kernel or initramfs.
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	// WaitSec is the driver's time from the command's end to the record
	// found.
	WaitSec float64 `json:"wait_s"`
	// Expected is PendingFail when the step broke the pending deployment
	// on purpose.
	Expected string `json:"expected,omitempty"`
	// Ignored says the step went on past a failing deployment.pending
	// (the plan's ignore_pending).
	Ignored bool `json:"ignored,omitempty"`
}

// String is the report's line: "before the reboot: upgrade to 12.3
// pending (...) — deployment.pending pass, 6.2s after the command".
func (p *PendingReport) String() string {
	what := "before the reboot"
	switch {
	case p.Expected == plan.PendingFail && p.Status == string(record.StatusFail):
		what = "caught before the reboot"
	case p.Ignored:
		what = "went on despite it (ignore_pending), before the reboot"
	}
	return fmt.Sprintf("%s: %s — %s %s, %.1fs after `%s`", what, p.Message, PendingCheck, p.Status, p.WaitSec, p.Command)
}

// Package record is the run record's schema: what one run of atomic-selftest
// checked, on which boot of which deployment, with each check's status and
// evidence. The host binary writes it as JSON under /var/lib/atomic-selftest
// and prints it in every format; the outer driver reads it back from hosts.
// It depends on nothing else in the project, so readers of records (the
// outer driver, report tools) do not pull in the engine.
package record

import (
	"fmt"
	"strings"
	"time"
)

// SchemaVersion is the version of the run record format. Bump it when a
// field changes meaning; readers accept records up to this version.
const SchemaVersion = 1

// Triggers say why a run happened.
const (
	TriggerBoot             = "boot"
	TriggerDeploymentChange = "deployment-change"
	TriggerManual           = "manual"
	// TriggerDeadline: the boot run had not saved its record when the
	// boot's deadline ([health] boot_deadline after the boot started)
	// passed, and atomic-selftest-deadline.service judged the host as it
	// was (Record.Deadline says what the boot was still waiting for).
	TriggerDeadline = "deadline"
)

// JudgesBoot reports whether a run with trigger judges its boot as a
// whole: the boot run, or the deadline run that stood in for a boot run
// that never started. A driver waiting for a boot's verdict takes either.
func JudgesBoot(trigger string) bool {
	return trigger == TriggerBoot || trigger == TriggerDeadline
}

// Record is one run: what was checked on which boot of which deployment.
// It is saved as JSON, one file per run, and is the JSON output format.
type Record struct {
	Schema      int       `json:"schema"`
	ToolVersion string    `json:"tool_version"`
	ID          string    `json:"id"`
	BootID      string    `json:"boot_id"`
	Hostname    string    `json:"hostname"`
	Trigger     string    `json:"trigger"`
	Sysroot     string    `json:"sysroot,omitempty"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	// Deployment is the booted deployment (nil where none was found).
	Deployment *Deployment `json:"deployment,omitempty"`
	// Transition is the change since the last run's deployment.
	Transition *Transition `json:"transition,omitempty"`
	// Expectation is the one the outer driver left, consumed by this run.
	Expectation *Expectation `json:"expectation,omitempty"`
	// Boot holds systemd's boot timestamps, where systemd is PID 1.
	Boot *ManagerState `json:"boot,omitempty"`
	// Health is what this run did about its verdict under the [health]
	// policy (record, reboot, rollback, or a refusal with its reason).
	Health *Health `json:"health,omitempty"`
	// Deadline is set on a run with trigger deadline: the deadline the
	// boot missed and the systemd jobs it was still waiting for.
	Deadline *Deadline `json:"deadline,omitempty"`
	// Waited is what the run waited for before its checks, each wait
	// bounded: the results lock (another run held it), and on a deadline
	// run the boot run's record until the deadline.
	Waited  []Wait   `json:"waited,omitempty"`
	Checks  []Result `json:"checks"`
	Summary Summary  `json:"summary"`
}

// Summary counts the results. OK is decided once, by the runner: every
// required check passed or skipped.
type Summary struct {
	Total   int  `json:"total"`
	Passed  int  `json:"passed"`
	Failed  int  `json:"failed"`
	Skipped int  `json:"skipped"`
	Errors  int  `json:"errors"`
	Blocked int  `json:"blocked"`
	OK      bool `json:"ok"`
	// RequiredBad names the required checks that failed, errored or were
	// blocked; WantedBad the wanted ones.
	RequiredBad []string `json:"required_bad,omitempty"`
	WantedBad   []string `json:"wanted_bad,omitempty"`
	// Groups counts the results of each group (release criteria, host
	// health, site checks) that has any, in record.Groups' order.
	Groups []GroupSummary `json:"groups,omitempty"`
}

// Deployment identifies an OSTree deployment, in ostree's words.
type Deployment struct {
	OSName   string `json:"osname"`
	Checksum string `json:"checksum"`
	Serial   int    `json:"serial"`
	Version  string `json:"version,omitempty"`
	// Refspec is the origin's refspec (or rpm-ostree's baserefspec).
	Refspec string `json:"refspec,omitempty"`
	// ImageReference is the container image a container-image deployment
	// follows (the origin's container-image-reference, as
	// "ostree-unverified-registry:quay.io/fedora/fedora-coreos:stable"),
	// and ImageDigest the digest of the manifest it was built from (the
	// commit's ostree.manifest-digest, "sha256:..."). Both empty for a
	// deployment of an ostree ref.
	ImageReference string `json:"image_reference,omitempty"`
	ImageDigest    string `json:"image_digest,omitempty"`
	// BaseChecksum is the base commit of a layered deployment (its parent).
	BaseChecksum    string   `json:"base_checksum,omitempty"`
	LayeredPackages []string `json:"layered_packages,omitempty"`
	Pinned          bool     `json:"pinned,omitempty"`
	// CommitTime is the commit's timestamp, which tells an upgrade (a
	// newer commit) from a deploy of an older version.
	CommitTime time.Time `json:"commit_time,omitzero"`
	// Rollback names the rollback deployment (osname/checksum.serial) at
	// the time of the record, so the next boot can recognise a rollback.
	Rollback string `json:"rollback,omitempty"`
	// Deployed is when ostree wrote the deployment (its directory's
	// ctime), and BootedAt when the boot that ran it started (btime in
	// /proc/stat). Booting a deployment written before the last boot
	// started is a rollback, even when the rollback was ordered after the
	// last boot's record was saved.
	Deployed time.Time `json:"deployed,omitzero"`
	BootedAt time.Time `json:"booted_at,omitzero"`
}

// Transition kinds.
const (
	TransitionFirstBoot = "first-boot"
	TransitionSame      = "same"
	TransitionUpgrade   = "upgrade"
	TransitionRollback  = "rollback"
	TransitionDeploy    = "deploy"
	TransitionLayering  = "layering"
	TransitionUnknown   = "unknown"
	// TransitionFallback: the bootloader started another entry than the
	// default one (the new deployment never came up, or a person picked
	// the previous entry). Transition.Expected is what should have booted.
	TransitionFallback = "fallback"
)

// TransitionByAtomicSelftest is Transition.By for a rollback that
// atomic-selftest's health policy ordered.
const TransitionByAtomicSelftest = "atomic-selftest"

// Transition is the change of booted deployment since the last run.
type Transition struct {
	Kind   string      `json:"kind"`
	From   *Deployment `json:"from,omitempty"`
	To     *Deployment `json:"to,omitempty"`
	Reason string      `json:"reason,omitempty"`
	// By names who ordered a rollback where it is known
	// (TransitionByAtomicSelftest), and ActionRecord the ID of the run
	// record whose Health action ordered it.
	By           string `json:"by,omitempty"`
	ActionRecord string `json:"action_record,omitempty"`
	// Expected is, for a fallback, the deployment that should have booted.
	Expected *Deployment `json:"expected,omitempty"`
}

// Health policies ([health] on_failure) and actions.
const (
	HealthRecord   = "record"   // policy: only record; action: recorded, nothing done
	HealthReboot   = "reboot"   // reboot the same deployment and test it again
	HealthRollback = "rollback" // roll back to the previous deployment and reboot
	// HealthRefused: the policy asked to act and a rule refused; Reason says which.
	HealthRefused = "refused"
	// HealthKeepFallback: the bootloader fell back from From (the default
	// entry) to To (booted), and [health] keep_fallback made To the
	// default; no reboot.
	HealthKeepFallback = "keep-fallback"
)

// Health stages, written to the state file before each step so an
// interrupted action is completed or reported by the next run, never
// repeated.
const (
	HealthStageDecided         = "decided"
	HealthStageRollbackWritten = "rollback-written"
	HealthStageRebootRequested = "reboot-requested"
	HealthStageDone            = "done"
)

// Health is what a run decided to do about a failed verdict.
type Health struct {
	// Policy is [health] on_failure; Action what was done (HealthRecord,
	// HealthReboot, HealthRollback, HealthRefused, HealthKeepFallback).
	Policy string `json:"policy"`
	Action string `json:"action"`
	Reason string `json:"reason,omitempty"`
	// From is the failing deployment, To the rollback target.
	From *Deployment `json:"from,omitempty"`
	To   *Deployment `json:"to,omitempty"`
	// Tool is the deployment tool that did the rollback: bootc,
	// rpm-ostree or command (health.rollback_command).
	Tool    string         `json:"tool,omitempty"`
	Failing []FailingCheck `json:"failing,omitempty"`
	// Attempt counts the failed boots of From's checksum so far (this one
	// included); MaxAttempts is reboot_attempts+1.
	Attempt     int       `json:"attempt"`
	MaxAttempts int       `json:"max_attempts"`
	Stage       string    `json:"stage,omitempty"`
	DecidedAt   time.Time `json:"decided_at,omitzero"`
	// RebootRequestedAt is when the reboot was asked of systemd.
	RebootRequestedAt time.Time `json:"reboot_requested_at,omitzero"`
	Error             string    `json:"error,omitempty"`
}

// Deadline is what a deadline run found: the boot run had not saved its
// record Bound after the boot started.
type Deadline struct {
	// Bound is [health] boot_deadline ("10m0s"), UptimeSec the time since
	// the boot started when the run began.
	Bound     string  `json:"bound"`
	UptimeSec float64 `json:"uptime_s"`
	// Jobs are systemd's queued and running jobs (ListJobs on
	// org.freedesktop.systemd1.Manager) other than the deadline run's own;
	// nil where systemd could not be asked.
	Jobs []Job `json:"jobs,omitempty"`
}

// Wait is one bounded wait of a run: what for, how long, and its bound.
type Wait struct {
	For      string  `json:"for"`
	Sec      float64 `json:"s"`
	BoundSec float64 `json:"bound_s"`
}

// Job is one of systemd's jobs (org.freedesktop.systemd1(5), ListJobs):
// a unit's start (or stop, ...) that is queued ("waiting") or under way
// ("running").
type Job struct {
	ID    uint32 `json:"id"`
	Unit  string `json:"unit"`
	Type  string `json:"type"`
	State string `json:"state"`
	// ForSec is how long the job has been at it: for a running job, since
	// its unit left "inactive" (InactiveExitTimestampMonotonic); for a
	// waiting one, since the boot began (the boot's jobs are queued then).
	ForSec float64 `json:"for_s"`
	// After is the unit's After= (what it is ordered after), and
	// WaitingFor those of them that still have a job: what holds it.
	After      []string `json:"after,omitempty"`
	WaitingFor []string `json:"waiting_for,omitempty"`
}

// String is the job as `systemctl list-jobs` would say it, with how long
// and what it waits for: "cloud-final.service start running for 9m58s",
// "multi-user.target start waiting for 10m0s (after cloud-final.service)".
func (j Job) String() string {
	s := fmt.Sprintf("%s %s %s for %s", j.Unit, j.Type, j.State, time.Duration(j.ForSec)*time.Second)
	if len(j.WaitingFor) > 0 {
		s += " (after " + strings.Join(j.WaitingFor, ", ") + ")"
	}
	return s
}

// FailingCheck is a required check that failed, with its message.
type FailingCheck struct {
	ID      string `json:"id"`
	Message string `json:"message,omitempty"`
}

// Expectation is what the outer driver says the next boot must be. It is
// saved as expect.json and consumed by the next run on a new boot.
type Expectation struct {
	Checksum string `json:"checksum,omitempty"`
	Version  string `json:"version,omitempty"`
	Refspec  string `json:"refspec,omitempty"`
	// Image is the container image the next boot must follow, as
	// REFERENCE or REFERENCE@sha256:DIGEST; the digest, when given, must
	// be the booted commit's manifest digest.
	Image          string    `json:"image,omitempty"`
	Packages       []string  `json:"packages,omitempty"`
	AbsentPackages []string  `json:"absent_packages,omitempty"`
	Created        time.Time `json:"created"`
	// CreatedBootID is the boot the expectation was left on; it applies to
	// the first run on any other boot.
	CreatedBootID string `json:"created_boot_id,omitempty"`
	Note          string `json:"note,omitempty"`
}

// Summarise counts results and decides OK.
func Summarise(results []Result) Summary {
	s := Summary{Total: len(results), OK: true}
	for _, r := range results {
		switch r.Status {
		case StatusPass:
			s.Passed++
		case StatusFail:
			s.Failed++
		case StatusSkip:
			s.Skipped++
		case StatusError:
			s.Errors++
		case StatusBlocked:
			s.Blocked++
		}
		if r.Status.Bad() {
			if r.Required {
				s.OK = false
				s.RequiredBad = append(s.RequiredBad, r.ID)
			} else {
				s.WantedBad = append(s.WantedBad, r.ID)
			}
		}
	}
	s.Groups = summariseGroups(results)
	return s
}

// Status is the outcome of one check.
type Status string

const (
	// StatusPass: the check ran and what it verifies is true.
	StatusPass Status = "pass"
	// StatusFail: the check ran and what it verifies is false.
	StatusFail Status = "fail"
	// StatusSkip: the check does not apply to this host; the message says why.
	StatusSkip Status = "skip"
	// StatusError: the check itself broke (a panic, or it could not decide).
	StatusError Status = "error"
	// StatusBlocked: a check it depends on did not pass.
	StatusBlocked Status = "blocked"
)

// Valid reports whether s is one of the five statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPass, StatusFail, StatusSkip, StatusError, StatusBlocked:
		return true
	}
	return false
}

// Bad reports whether the status counts against the run when the check is
// required: fail, error and blocked do; pass and skip do not.
func (s Status) Bad() bool {
	return s == StatusFail || s == StatusError || s == StatusBlocked
}

// Evidence is one thing a check compared: what it expected and what it saw.
type Evidence struct {
	Name     string `json:"name"`
	Expected string `json:"expected,omitempty"`
	Seen     string `json:"seen"`
}

// Result is one check's outcome in a run record.
type Result struct {
	ID          string         `json:"id"`
	Criterion   string         `json:"criterion"`
	Required    bool           `json:"required"`
	Status      Status         `json:"status"`
	Message     string         `json:"message,omitempty"`
	Evidence    []Evidence     `json:"evidence,omitempty"`
	Details     map[string]any `json:"details,omitempty"`
	Start       time.Time      `json:"start"`
	DurationSec float64        `json:"duration_s"`
}

// ManagerState is systemd's view of the boot (systemd-analyze(1) reads the
// same properties).
type ManagerState struct {
	// SystemState: initializing, starting, running, degraded, maintenance,
	// stopping.
	SystemState    string `json:"system_state"`
	DefaultTarget  string `json:"default_target,omitempty"`
	Virtualization string `json:"virtualization,omitempty"`
	// Monotonic timestamps in microseconds; zero where not reached.
	FirmwareUsec  uint64 `json:"firmware_usec,omitempty"`
	LoaderUsec    uint64 `json:"loader_usec,omitempty"`
	KernelUsec    uint64 `json:"kernel_usec,omitempty"`
	InitRDUsec    uint64 `json:"initrd_usec,omitempty"`
	UserspaceUsec uint64 `json:"userspace_usec,omitempty"`
	FinishUsec    uint64 `json:"finish_usec,omitempty"`
}

// Finished reports whether the boot finished (systemd reached its default
// target and the initial job queue emptied).
func (m ManagerState) Finished() bool { return m.FinishUsec != 0 }

// BootDuration is the time from the kernel to the end of the boot, as
// `systemd-analyze time` counts it, excluding firmware and loader.
func (m ManagerState) BootDuration() time.Duration {
	if m.FinishUsec == 0 {
		return 0
	}
	return time.Duration(m.FinishUsec-m.KernelUsec) * time.Microsecond
}

package selftest

import (
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
)

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
	Boot    *ManagerState `json:"boot,omitempty"`
	Checks  []Result      `json:"checks"`
	Summary Summary       `json:"summary"`
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
}

// Deployment identifies an OSTree deployment, in ostree's words.
type Deployment struct {
	OSName   string `json:"osname"`
	Checksum string `json:"checksum"`
	Serial   int    `json:"serial"`
	Version  string `json:"version,omitempty"`
	// Refspec is the origin's refspec (or rpm-ostree's baserefspec).
	Refspec string `json:"refspec,omitempty"`
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
	// ctime): a boot into a deployment older than the last boot's is a
	// rollback, even when the rollback was ordered after the last record.
	Deployed time.Time `json:"deployed,omitzero"`
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
)

// Transition is the change of booted deployment since the last run.
type Transition struct {
	Kind   string      `json:"kind"`
	From   *Deployment `json:"from,omitempty"`
	To     *Deployment `json:"to,omitempty"`
	Reason string      `json:"reason,omitempty"`
}

// Expectation is what the outer driver says the next boot must be. It is
// saved as expect.json and consumed by the next run on a new boot.
type Expectation struct {
	Checksum       string    `json:"checksum,omitempty"`
	Version        string    `json:"version,omitempty"`
	Refspec        string    `json:"refspec,omitempty"`
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
	return s
}

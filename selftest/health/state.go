package health

import (
	"slices"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// StateFile is the health state's name in the results directory.
const StateFile = "health.json"

// StateSchema is the version of the state file's format.
const StateSchema = 1

// State is health.json: what the policy did on earlier boots.
type State struct {
	Schema int `json:"schema"`
	// Attempts counts failed boots per deployment checksum.
	Attempts map[string]*Attempts `json:"attempts,omitempty"`
	// Action is the last action taken; Stage says how far it got.
	Action *Action `json:"action,omitempty"`
	// RolledBackFrom and RolledBackTo are the checksums of earlier
	// rollbacks, so none is rolled back twice and a target that fails too
	// is left alone.
	RolledBackFrom []string `json:"rolled_back_from,omitempty"`
	RolledBackTo   []string `json:"rolled_back_to,omitempty"`
	// LastGood is the checksum of the last boot whose run passed.
	LastGood string `json:"last_good,omitempty"`
}

// Attempts is the failing series of one deployment.
type Attempts struct {
	// Count is the number of failed boots.
	Count int `json:"count"`
	// Kind is the transition that brought the deployment in.
	Kind string `json:"kind,omitempty"`
	// BootIDs are the failed boots, so a second run on a boot does not
	// count it twice.
	BootIDs []string  `json:"boot_ids,omitempty"`
	Last    time.Time `json:"last"`
}

// Action is one decided action and how far it got.
type Action struct {
	Action string             `json:"action"`
	Stage  string             `json:"stage"`
	From   *record.Deployment `json:"from,omitempty"`
	To     *record.Deployment `json:"to,omitempty"`
	Tool   string             `json:"tool,omitempty"`
	// Record is the ID of the run record that decided it, BootID its boot.
	Record  string `json:"record"`
	BootID  string `json:"boot_id"`
	Attempt int    `json:"attempt"`
	// Completion says how the next boot found it (completed, or reported
	// as interrupted), and the boot that did.
	Completion       string    `json:"completion,omitempty"`
	CompletionBootID string    `json:"completion_boot_id,omitempty"`
	Error            string    `json:"error,omitempty"`
	DecidedAt        time.Time `json:"decided_at"`
	RebootRequested  time.Time `json:"reboot_requested_at,omitzero"`
}

// ReadState reads the state; a missing file is an empty state.
func ReadState(st *store.Store) (*State, error) {
	s := &State{Schema: StateSchema}
	if _, err := st.ReadJSON(StateFile, s); err != nil {
		return &State{Schema: StateSchema}, err
	}
	return s, nil
}

// write makes the state durable (atomic rename, 0600, directory fsync)
// before the caller's next external step.
func (s *State) write(st *store.Store) error {
	if err := st.WriteJSON(StateFile, s); err != nil {
		return err
	}
	return st.Sync()
}

// NextAttempt is the failed-boot count of checksum with this boot counted.
func (s *State) NextAttempt(checksum, bootID string) int {
	a := s.Attempts[checksum]
	if a == nil {
		return 1
	}
	if bootID != "" && slices.Contains(a.BootIDs, bootID) {
		return a.Count
	}
	return a.Count + 1
}

// countFailure records a failed boot of checksum.
func (s *State) countFailure(checksum, bootID, kind string, at time.Time) {
	if s.Attempts == nil {
		s.Attempts = map[string]*Attempts{}
	}
	a := s.Attempts[checksum]
	if a == nil {
		a = &Attempts{}
		s.Attempts[checksum] = a
	}
	if bootID != "" && slices.Contains(a.BootIDs, bootID) {
		return
	}
	a.Count++
	if kind != "" {
		a.Kind = kind
	}
	a.Last = at
	a.BootIDs = append(a.BootIDs, bootID)
	// Bound the list: only the count matters beyond the last few.
	if len(a.BootIDs) > 12 {
		a.BootIDs = a.BootIDs[len(a.BootIDs)-12:]
	}
}

func (s *State) series(checksum string) string {
	if s == nil || s.Attempts[checksum] == nil {
		return ""
	}
	return s.Attempts[checksum].Kind
}

func (s *State) rolledBackFrom(c string) bool {
	return s != nil && slices.Contains(s.RolledBackFrom, c)
}
func (s *State) rolledBackTo(c string) bool { return s != nil && slices.Contains(s.RolledBackTo, c) }

// inFlight is the action an earlier run left unfinished.
func (s *State) inFlight() *Action {
	if s.Action != nil && s.Action.Stage != record.HealthStageDone {
		return s.Action
	}
	return nil
}

// Package notice tells the operator about the automatic rollbacks that
// atomic-selftest's health policy ordered, until an admin acknowledges
// them: the banner `status` and the motd show, and `atomic-selftest ack`.
// It reads only the saved run records (a record whose Health action is a
// rollback) and one small file of its own, AckFile, in the results
// directory.
package notice

import (
	"context"
	"fmt"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// AckFile is the acknowledgement `atomic-selftest ack` writes in the
// results directory.
const AckFile = "health-ack.json"

// Ack is the content of AckFile: the newest rollback record an admin
// acknowledged. Run record IDs sort by the store's sequence (not by start
// time, which a clock jump reverses), so every rollback record with a
// greater ID is news.
type Ack struct {
	Record string    `json:"record"`
	Time   time.Time `json:"time"`
	BootID string    `json:"boot_id,omitempty"`
}

// Rollback reports whether rec's health action ordered a rollback.
func Rollback(rec *record.Record) bool {
	return rec != nil && rec.Health != nil && rec.Health.Action == record.HealthRollback
}

// LatestAction returns the newest of runs (oldest first, as store.Runs
// gives them) that carries a health action other than "record", or nil.
func LatestAction(runs []*record.Record) *record.Record {
	for i := len(runs) - 1; i >= 0; i-- {
		if h := runs[i].Health; h != nil && h.Action != "" && h.Action != record.HealthRecord {
			return runs[i]
		}
	}
	return nil
}

// Unacknowledged returns the newest rollback record of runs that is newer
// than ack (nil: nothing acknowledged yet), or nil when there is none.
func Unacknowledged(runs []*record.Record, ack *Ack) *record.Record {
	for i := len(runs) - 1; i >= 0; i-- {
		if ack != nil && runs[i].ID <= ack.Record {
			return nil
		}
		if Rollback(runs[i]) {
			return runs[i]
		}
	}
	return nil
}

// ReadAck returns the acknowledgement in st, nil when there is none.
func ReadAck(st *store.Store) (*Ack, error) {
	var a Ack
	ok, err := st.ReadJSON(AckFile, &a)
	if err != nil || !ok {
		return nil, err
	}
	return &a, nil
}

// Pending reads st and returns the rollback record the banner is about,
// or nil. Unreadable run records are skipped (store.Runs reports them);
// an unreadable ack file is an error: the banner stays.
func Pending(st *store.Store) (*record.Record, error) {
	runs, _, err := st.Runs(store.Filter{})
	if err != nil {
		return nil, err
	}
	// On an unreadable ack file, ack is nil and the newest rollback shows.
	ack, err := ReadAck(st)
	return Unacknowledged(runs, ack), err
}

// Acknowledge records, under the results lock, that an admin saw the
// newest rollback. It returns that rollback record, or nil when there was
// nothing to acknowledge (the ack file is then left as it was).
func Acknowledge(ctx context.Context, dir, bootID string, lockTimeout time.Duration, now time.Time) (*record.Record, error) {
	st, err := store.Open(dir)
	if err != nil {
		return nil, err
	}
	unlock, err := st.Lock(ctx, lockTimeout)
	if err != nil {
		return nil, err
	}
	defer unlock()
	runs, _, err := st.Runs(store.Filter{})
	if err != nil {
		return nil, err
	}
	// A garbled ack file is replaced: acknowledging is what it is for.
	ack, _ := ReadAck(st)
	rec := Unacknowledged(runs, ack)
	if rec == nil {
		return nil, nil
	}
	if err := st.WriteJSON(AckFile, Ack{Record: rec.ID, Time: now.UTC(), BootID: bootID}); err != nil {
		return nil, fmt.Errorf("acknowledging rollback record %s: %w", rec.ID, err)
	}
	return rec, st.Sync()
}

// When is when rec's health action was decided (the record's end when the
// decision time is missing).
func When(rec *record.Record) time.Time {
	if rec.Health != nil && !rec.Health.DecidedAt.IsZero() {
		return rec.Health.DecidedAt
	}
	return rec.End
}

// Banner is the line shown until the rollback in rec is acknowledged:
// "rolled back from 12.3 (abc123) to 12.2 (def456) on 2026-12-07 03:10
// UTC: runtime.service failed: <message>". Host strings are escaped.
func Banner(rec *record.Record) string {
	h := rec.Health
	if h == nil {
		return ""
	}
	from := h.From
	if from == nil {
		from = rec.Deployment
	}
	why := h.Failures()
	if rec.Deadline != nil {
		// A boot that never finished: what it waited for says more than
		// the first failing check.
		why = deadlineReason(rec.Deadline)
	}
	return record.Printable(fmt.Sprintf("rolled back from %s to %s on %s: %s", from.Label(), h.To.Label(),
		When(rec).UTC().Format("2006-01-02 15:04 UTC"), why))
}

// AckHint is the line that follows the banner.
const AckHint = "Run `atomic-selftest status` for details and `atomic-selftest ack` to acknowledge."

// MotdLines returns the banner of the unacknowledged rollback rec (see
// Pending, Unacknowledged) and its hint; nothing when rec is nil.
func MotdLines(rec *record.Record) []string {
	if rec == nil {
		return nil
	}
	return []string{"atomic-selftest: " + Banner(rec), AckHint}
}

// Action is a run record's health action, as `status --format json`
// shows it: the record, its boot, and the Health with its attempt counts.
type Action struct {
	Record string         `json:"record"`
	BootID string         `json:"boot_id"`
	Time   time.Time      `json:"time"`
	Health *record.Health `json:"health"`
}

func actionOf(rec *record.Record) *Action {
	if rec == nil {
		return nil
	}
	return &Action{Record: rec.ID, BootID: rec.BootID, Time: When(rec).UTC(), Health: rec.Health}
}

// View is what `status` says about health actions.
type View struct {
	// Unacknowledged is the newest automatic rollback no admin has
	// acknowledged, Banner its line.
	Unacknowledged *Action `json:"unacknowledged_rollback,omitempty"`
	Banner         string  `json:"banner,omitempty"`
	// Latest is the newest health action of any kind (reboot, rollback,
	// refused), acknowledged or not.
	Latest *Action `json:"latest_health_action,omitempty"`
	// Acknowledged is the last acknowledgement.
	Acknowledged *Ack `json:"acknowledged,omitempty"`
}

// Summarize builds the view from runs (oldest first) and ack.
func Summarize(runs []*record.Record, ack *Ack) View {
	v := View{Latest: actionOf(LatestAction(runs)), Acknowledged: ack}
	if rec := Unacknowledged(runs, ack); rec != nil {
		v.Unacknowledged, v.Banner = actionOf(rec), Banner(rec)
	}
	return v
}

// LastAction returns the record of runs (oldest first) carrying the
// health action the boot bootID took: its newest rollback, else its
// newest other action; nil when that boot did nothing or bootID is "".
func LastAction(runs []*record.Record, bootID string) *record.Record {
	if bootID == "" {
		return nil
	}
	// A rollback wins over a later action of the same boot (a run the
	// deployment change triggered before the reboot may have refused to
	// act again).
	var found *record.Record
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.BootID != bootID || LatestAction(runs[i:i+1]) == nil {
			continue
		}
		if Rollback(r) {
			return r
		}
		if found == nil {
			found = r
		}
	}
	return found
}

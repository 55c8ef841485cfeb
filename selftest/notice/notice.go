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
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
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

// Name names a deployment the way the banner does: "12.3 (abc1234567)",
// the checksum alone when it has no version.
func Name(d *record.Deployment) string {
	if d == nil {
		return "an unknown deployment"
	}
	if d.Version == "" {
		return record.Short(d.Checksum)
	}
	return d.Version + " (" + record.Short(d.Checksum) + ")"
}

// Failures says which required checks failed: "runtime.service failed:
// <message>", and how many more.
func Failures(h *record.Health) string {
	if h == nil || len(h.Failing) == 0 {
		if h != nil && h.Reason != "" {
			return h.Reason
		}
		return "required checks failed"
	}
	f := h.Failing[0]
	s := f.ID + " failed"
	if m := strings.SplitN(f.Message, "\n", 2)[0]; m != "" {
		s += ": " + m
	}
	if n := len(h.Failing) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
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
	return record.Printable(fmt.Sprintf("rolled back from %s to %s on %s: %s", Name(from), Name(h.To),
		When(rec).UTC().Format("2006-01-02 15:04 UTC"), Failures(h)))
}

// AckHint is the line that follows the banner.
const AckHint = "Run `atomic-selftest status` for details and `atomic-selftest ack` to acknowledge."

// MotdLines returns the banner and its hint for the results directory
// dir, or nothing when no rollback is pending.
func MotdLines(dir string) ([]string, error) {
	rec, err := Pending(&store.Store{Dir: dir})
	if rec == nil {
		return nil, err
	}
	return []string{"atomic-selftest: " + Banner(rec), AckHint}, err
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

// ReadLastAction fills hist.LastAction and hist.LastActionRecord from the
// run records in st of the boot hist.LastBootID (set before): its newest
// rollback, else its newest other action. The caller
// holds the results lock, as when the history is read before a run.
func ReadLastAction(st *store.Store, hist *selftest.History) error {
	if hist.LastBootID == "" {
		return nil
	}
	runs, _, err := st.Runs(store.Filter{BootID: hist.LastBootID})
	if err != nil {
		return err
	}
	// A rollback wins over a later action of the same boot (a run the
	// deployment change triggered before the reboot may have refused to
	// act again).
	var found *record.Record
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		// Filter.BootID is a prefix: keep that boot only.
		if r.BootID != hist.LastBootID || LatestAction(runs[i:i+1]) == nil {
			continue
		}
		if Rollback(r) {
			found = r
			break
		}
		if found == nil {
			found = r
		}
	}
	if found != nil {
		hist.LastAction, hist.LastActionRecord = found.Health, found.ID
	}
	hist.LastActionRead = true
	return nil
}

package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// Env is what a run hands the health step. The caller holds the results
// lock for as long as it uses Env.
type Env struct {
	Store  *store.Store
	Policy config.Health
	// BootID is this boot's id.
	BootID string
	// Commands runs the deployment tool; nil means selftest.ExecCommander.
	Commands selftest.Commander
	// Tool overrides detection (tests); nil detects per Policy.Tool.
	Tool Tool
	// Rebooter asks for the reboot; nil means SystemdRebooter.
	Rebooter Rebooter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Root is the host's root, where keep_fallback reads the deployment
	// list again after the tool; "" means /.
	Root string
}

func (e *Env) root() string {
	if e.Root == "" {
		return "/"
	}
	return e.Root
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// afterStage is called after each state write, in tests only: the SIGKILL
// test kills the process there.
var afterStage func(stage string)

// stageToolReturned is the instant between the tool's return and the
// rollback-written state: the rollback is on disk, the state says decided.
const stageToolReturned = "tool-returned"

func reached(stage string) {
	if afterStage != nil {
		afterStage(stage)
	}
}

// Pending is a reboot the run must request once its record is saved.
type Pending struct {
	env   *Env
	state *State
	rec   *record.Record
}

// Prepare is the health step of a boot-triggered run whose record is
// complete but not yet saved. It first completes or reports an action an
// earlier run left unfinished, then decides about this run and, for a
// rollback, has the deployment tool write it (state stages decided, then
// rollback-written, each durable before the next step). It sets
// rec.Health. A non-nil Pending is a reboot to request, with
// Pending.Reboot, after the record is saved. An error means the state
// could not be kept; rec.Health then says what was not done.
func Prepare(ctx context.Context, env *Env, rec *record.Record) (*Pending, error) {
	if env.Commands == nil {
		env.Commands = selftest.ExecCommander{}
	}
	st, readErr := ReadState(env.Store)
	note, resume, garbled := resolve(env, st, rec)

	var dec Decision
	attempt := 0
	if rec.Deployment != nil {
		attempt = st.NextAttempt(rec.Deployment.Checksum, env.BootID)
	}
	if readErr != nil {
		// A garbled state file loses the attempt counts and the rollback
		// history: acting without them could loop. Record and refuse.
		dec = Decide(env.Policy, rec, st, attempt)
		if dec.Health != nil && dec.Health.Action != record.HealthRecord {
			dec.Health.Action, dec.Health.To = record.HealthRefused, nil
			dec.Health.Reason = "the health state cannot be read, so earlier attempts and rollbacks are unknown: " + readErr.Error()
		}
	} else if garbled != "" {
		// The same for an in-flight action that cannot have been written
		// by a run: what else the file says is not to be trusted this boot.
		// resolve closed the action, so the next boot decides normally.
		dec = Decide(env.Policy, rec, st, attempt)
		if dec.Health != nil && dec.Health.Action != record.HealthRecord {
			dec.Health.Action, dec.Health.To = record.HealthRefused, nil
			dec.Health.Reason = "the health state's in-flight action is garbled, so nothing is acted on this boot: " + garbled
			note = ""
		}
	} else if resume != nil {
		dec = Decision{Health: resume}
	} else {
		dec = Decide(env.Policy, rec, st, attempt)
		if a := st.Action; dec.Health != nil && dec.Health.Action != record.HealthRecord &&
			a != nil && env.BootID != "" && a.BootID == env.BootID {
			// Health acts once per boot: a deadline run that acted and the
			// boot run that starts after it (or two runs on one boot) never
			// reboot or roll back twice.
			dec.Health.Action, dec.Health.To = record.HealthRefused, nil
			dec.Health.Reason = fmt.Sprintf("the policy acted on this boot already (%s by run %s, stage %s); it acts once per boot", a.Action, a.Record, a.Stage)
		}
	}
	if def := fellBack(rec); def != nil && env.Policy.KeepFallback && readErr == nil && garbled == "" && resume == nil {
		// The bootloader fell back: the policy's rules above refused to
		// act on this boot; keep_fallback makes the fallback stick
		// instead, with no reboot. A later run on this boot sees a
		// bootloader configuration written during the boot, and so no
		// fallback: it acts once.
		dec = Decision{Health: keepFallback(ctx, env, rec, def)}
		if dec.Health.Action == record.HealthKeepFallback && dec.Health.Error == "" {
			st.RolledBackFrom = appendNew(st.RolledBackFrom, def.Checksum)
		}
	}
	h := dec.Health
	if h != nil && h.DecidedAt.IsZero() {
		h.DecidedAt = env.now()
	}
	if h != nil && note != "" {
		h.Reason = strings.TrimSpace(h.Reason + " (" + note + ")")
	}
	rec.Health = h

	// The attempt count and the last good deployment follow from this
	// run whatever the action.
	if rec.Deployment != nil && !rec.Summary.OK && resume == nil {
		st.countFailure(rec.Deployment.Checksum, env.BootID, dec.Kind, env.now())
	}
	if rec.Deployment != nil && rec.Summary.OK {
		st.LastGood = rec.Deployment.Checksum
		delete(st.Attempts, rec.Deployment.Checksum)
	}
	if h == nil || (h.Action != record.HealthReboot && h.Action != record.HealthRollback) {
		if readErr != nil {
			// Do not overwrite a state file that could not be read: an
			// operator may want it.
			return nil, nil
		}
		return nil, st.write(env.Store)
	}

	// An action: decided.
	a := st.Action
	if resume == nil {
		// The record's ID (its sequence in the store) is fixed now, so the
		// state names the file the record is saved as next.
		id, err := env.Store.RunID(rec)
		if err != nil {
			return nil, err
		}
		h.Stage = record.HealthStageDecided
		a = &Action{Action: h.Action, Stage: record.HealthStageDecided, From: h.From, To: h.To,
			Record: id, BootID: env.BootID, Attempt: h.Attempt, DecidedAt: h.DecidedAt}
		st.Action = a
	}
	if h.Action == record.HealthRollback && a.Stage == record.HealthStageDecided {
		tool := env.Tool
		if tool == nil {
			var err error
			if tool, err = Detect(ctx, env.Policy, env.Commands); err != nil {
				return nil, fail(env, st, h, err)
			}
		}
		h.Tool, a.Tool = tool.Name(), tool.Name()
		// Remembered before the tool runs: once the rollback may have been
		// written, neither side is ever rolled back again.
		st.RolledBackFrom = appendNew(st.RolledBackFrom, h.From.Checksum)
		st.RolledBackTo = appendNew(st.RolledBackTo, h.To.Checksum)
		if err := st.write(env.Store); err != nil {
			return nil, err
		}
		reached(record.HealthStageDecided)
		if err := tool.Rollback(ctx); err != nil {
			return nil, fail(env, st, h, err)
		}
		reached(stageToolReturned)
		a.Stage = record.HealthStageRollbackWritten
		if err := st.write(env.Store); err != nil {
			return nil, err
		}
		reached(record.HealthStageRollbackWritten)
	} else if resume == nil {
		if err := st.write(env.Store); err != nil {
			return nil, err
		}
		reached(record.HealthStageDecided)
	}
	// The record is saved next and carries the stage the host is about to
	// reach: the reboot is requested only after it is durable.
	h.Stage = record.HealthStageRebootRequested
	h.RebootRequestedAt = env.now()
	return &Pending{env: env, state: st, rec: rec}, nil
}

// Reboot writes stage reboot-requested and asks for the reboot. Call it
// after the record carrying rec.Health is saved. On an error rec.Health
// says so; the caller saves the record again.
func (p *Pending) Reboot(ctx context.Context) error {
	a := p.state.Action
	a.Stage = record.HealthStageRebootRequested
	a.RebootRequested = p.rec.Health.RebootRequestedAt
	if err := p.state.write(p.env.Store); err != nil {
		p.rec.Health.Error = err.Error()
		return err
	}
	reached(record.HealthStageRebootRequested)
	rb := p.env.Rebooter
	if rb == nil {
		rb = SystemdRebooter{}
	}
	if err := rb.RequestReboot(ctx); err != nil {
		a.Error = err.Error()
		p.rec.Health.Error = err.Error()
		return errors.Join(err, p.state.write(p.env.Store))
	}
	return nil
}

// fail ends an action whose step failed: the host stays, the state and
// the record say why.
func fail(env *Env, st *State, h *record.Health, err error) error {
	h.Error = err.Error()
	h.Stage = record.HealthStageDone
	st.Action.Stage = record.HealthStageDone
	st.Action.Error = err.Error()
	st.Action.Completion = "failed on the deciding boot; the host stays on the failing deployment"
	return errors.Join(err, st.write(env.Store))
}

// resolve completes or reports the action an earlier run left unfinished.
// It returns a note for this run's record and, when the action is to be
// carried on by this run, the Health that does so. garbled, when not
// empty, says why the action cannot have been written by a run (a
// rollback without a target, an unknown stage); the action is then closed
// with that reason and never carried on.
func resolve(env *Env, st *State, rec *record.Record) (note string, resume *record.Health, garbled string) {
	a := st.inFlight()
	if a == nil || rec.Deployment == nil {
		return "", nil, ""
	}
	booted := rec.Deployment.Checksum
	done := func(how string) (string, *record.Health, string) {
		a.Stage, a.Completion, a.CompletionBootID = record.HealthStageDone, how, env.BootID
		return fmt.Sprintf("earlier %s of run %s: %s", a.Action, a.Record, how), nil, ""
	}
	if why := a.garbled(); why != "" {
		note, _, _ := done("refused, garbled: " + why)
		return note, nil, why
	}
	carryOn := func(how string) (string, *record.Health, string) {
		if rec.Summary.OK {
			return done("not carried on: the deployment passed on this boot")
		}
		if why := stillAllowed(env.Policy, st, a); why != "" {
			return done("not carried on: " + why)
		}
		return "", &record.Health{Policy: env.Policy.OnFailure, Action: a.Action, From: a.From, To: a.To, Tool: a.Tool,
			Failing: Failing(rec), Attempt: a.Attempt, MaxAttempts: env.Policy.RebootAttempts + 1, Stage: a.Stage,
			DecidedAt: a.DecidedAt, Reason: fmt.Sprintf("carrying on the %s of run %s interrupted at stage %s: %s", a.Action, a.Record, a.Stage, how)}, ""
	}
	sameBoot := a.BootID != "" && a.BootID == env.BootID
	switch a.Action {
	case record.HealthReboot:
		if sameBoot {
			if a.Stage == record.HealthStageRebootRequested {
				return done("the reboot was requested on this boot and has not happened; not requested twice")
			}
			return carryOn("the reboot was not requested yet")
		}
		return done("the reboot happened (boot " + env.BootID + ")")
	case record.HealthRollback:
		if a.To != nil && booted == a.To.Checksum {
			return done("the rollback happened: booted " + short(booted))
		}
		if a.From == nil || booted != a.From.Checksum {
			return done("booted " + short(booted) + ", neither the deployment rolled back from nor its target")
		}
		switch a.Stage {
		case record.HealthStageDecided:
			// Whether the tool wrote the rollback before the kill is told
			// by the rollback deployment: while it is still the target,
			// nothing was written and the rollback is redone; otherwise the
			// good deployment is never rolled back.
			if rec.Deployment.Rollback != "" && a.To != nil && rec.Deployment.Rollback == Name(a.To) {
				return carryOn("the rollback deployment is still " + short(a.To.Checksum) + ", so the rollback was not written")
			}
			return done("interrupted after the decision, and the rollback deployment is now " + orNone(rec.Deployment.Rollback) + ", not " + short(a.To.Checksum) + ": not rolled back again")
		default:
			if sameBoot {
				if a.Stage == record.HealthStageRollbackWritten {
					return carryOn("the rollback was written and the reboot not requested yet")
				}
				return done("the reboot was requested on this boot and has not happened; not requested twice")
			}
			return done("the rollback was written but this boot started " + short(booted) + " again, the deployment rolled back from; not acting again")
		}
	}
	return done("unknown action " + a.Action)
}

// garbled says what in an in-flight action no run writes, or "": each
// action names the deployment it acted on, a rollback its target, and the
// stage is one of the machine's.
func (a *Action) garbled() string {
	switch {
	case a.Action != record.HealthReboot && a.Action != record.HealthRollback:
		return fmt.Sprintf("unknown action %q", a.Action)
	case a.Stage != record.HealthStageDecided && a.Stage != record.HealthStageRollbackWritten && a.Stage != record.HealthStageRebootRequested:
		return fmt.Sprintf("unknown stage %q", a.Stage)
	case a.From == nil || a.From.Checksum == "":
		return "an action without the deployment it acted on (from)"
	case a.Action == record.HealthRollback && (a.To == nil || a.To.Checksum == ""):
		return "a rollback without a target (to)"
	case a.Action == record.HealthReboot && a.Stage == record.HealthStageRollbackWritten:
		return "a reboot at stage " + a.Stage
	}
	return ""
}

// stillAllowed says why today's policy would not take the action an
// interrupted run decided, or "": the admin may have changed [health]
// between the kill and this run, and only what the current policy allows
// is carried on.
func stillAllowed(p config.Health, st *State, a *Action) string {
	switch {
	case p.OnFailure == record.HealthRecord:
		return "health.on_failure is now record"
	case a.Action == record.HealthRollback && p.OnFailure != record.HealthRollback:
		return "health.on_failure is now " + p.OnFailure + ", which never rolls back"
	case a.Action == record.HealthReboot && a.Attempt > p.RebootAttempts:
		return fmt.Sprintf("attempt %d is past health.reboot_attempts (now %d)", a.Attempt, p.RebootAttempts)
	}
	if kind := st.series(a.From.Checksum); kind != "" && !slices.Contains(p.Transitions, kind) {
		return fmt.Sprintf("transition %q is no longer in health.transitions (%s)", kind, strings.Join(p.Transitions, ", "))
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// maxRolledBack bounds the rollback history kept in health.json; a host
// rolls back rarely, and the newest entries are the ones a loop needs.
const maxRolledBack = 32

func appendNew(l []string, s string) []string {
	if slices.Contains(l, s) {
		return l
	}
	l = append(l, s)
	if len(l) > maxRolledBack {
		l = l[len(l)-maxRolledBack:]
	}
	return l
}

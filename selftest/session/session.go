// Package session runs atomic-selftest once, end to end: it loads the
// configuration, takes the results lock, reads what earlier runs left
// (the last booted deployment, a pending expectation), runs the selected
// checks, saves the run record, prunes old runs, and reports to the
// journal, sd_notify and /run/motd.d. The CLI's `run` is a thin layer over
// Run.
package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/health"
	"github.com/atomic-selftest/atomic-selftest/selftest/notice"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// Options are what `atomic-selftest run` passes in.
type Options struct {
	// Root is "/" or the --sysroot directory.
	Root string
	// ResultsDir is where records are saved (store.DefaultDir).
	ResultsDir string
	// NoSave runs without touching the results directory.
	NoSave bool
	// Trigger is boot, deployment-change or manual.
	Trigger string
	// CheckIDs limits the run to these checks and their dependencies.
	CheckIDs []string
	// Registry supplies the checks; nil means selftest.Default.
	Registry *selftest.Registry
	// Config, if nil, is loaded from the root's config directories.
	Config *config.Config
	// Version is the tool version recorded in the run.
	Version string
	// Report says where to report besides the record; nil reports nowhere.
	Report *report.Options
	// NewSystemd overrides the systemd probe (tests).
	NewSystemd func(ctx context.Context) (selftest.Systemd, error)
	// Commands overrides the command runner (tests).
	Commands selftest.Commander
	// ProbeBinary overrides the binary the container probes run
	// (selftest.Host.ProbeBinary).
	ProbeBinary string
	// OnResult is called as each check finishes.
	OnResult func(record.Result)
	// HealthTool and Rebooter override the deployment tool and the
	// systemd reboot of the [health] policy (tests); nil means detect and
	// systemd's D-Bus API.
	HealthTool health.Tool
	Rebooter   health.Rebooter
	// Uptime is the time since the boot started (CLOCK_BOOTTIME, the
	// clock of OnBootSec=); nil reads it. A deadline run waits until it
	// reaches [health] boot_deadline.
	Uptime func() (time.Duration, error)

	// waited is what Run waited for before prepare (the deadline).
	waited []record.Wait
}

// Outcome is what a run produced.
type Outcome struct {
	Record *record.Record
	// Path is where the record was saved ("" with NoSave or on error).
	Path string
	// SaveErr is set when the run finished but saving failed; the record is
	// still complete and printable.
	SaveErr error
	// ReportErr is set when the run was saved but publishing it failed
	// ([report] textfile_dir); the saved record is not affected.
	ReportErr error
	// HealthErr is set when the [health] step could not keep its state,
	// roll back or request the reboot; Record.Health says what was done.
	HealthErr error
	// Problems are earlier files that could not be read (reported, not
	// fatal).
	Problems []string
	// NotRun, on a deadline run, says why it did nothing: the boot run
	// saved this boot's record before the deadline, or the deadline is
	// off. Record is nil then.
	NotRun string
}

// ErrUsage marks errors in what the caller asked for (unknown check,
// bad configuration).
var ErrUsage = errors.New("usage")

// Run performs one run: prepare (options, configuration, the checks, the
// results lock and what earlier runs left), run the checks, conclude
// (health, save, report, reboot). A returned error means the run did not
// happen at all (bad configuration, lock not obtained); a failed save is
// reported in Outcome.SaveErr with the finished record.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	if o.Trigger == record.TriggerDeadline {
		var why string
		var err error
		if o, why, err = awaitDeadline(ctx, o); err != nil || why != "" {
			return &Outcome{NotRun: why}, err
		}
	}
	s, err := prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	defer s.close()
	s.waited = append(o.waited, s.waited...)
	if o.Trigger == record.TriggerDeadline {
		// Under the lock, once more: the boot run may have saved its
		// record while this one waited for the deadline or the lock.
		if why := s.bootJudged(); why != "" {
			return &Outcome{NotRun: why}, nil
		}
	}
	rec := s.run(ctx)
	return s.conclude(ctx, rec), nil
}

// runState is one run under way: what prepare found, for run and conclude.
type runState struct {
	o      Options
	cfg    *config.Config
	checks []*selftest.Check
	rc     *selftest.RunContext
	// st is the results directory; writable (and locked) unless NoSave.
	st     *store.Store
	unlock func()
	past   past
	out    *Outcome
	// waited is what the run waited for before its checks (record.Wait).
	waited []record.Wait
}

// lockWaitWorthNoting is the shortest wait for the results lock the
// record names: an uncontended lock takes microseconds.
const lockWaitWorthNoting = 100 * time.Millisecond

func (s *runState) close() {
	if s.unlock != nil {
		s.unlock()
	}
	s.rc.Close()
}

// prepare validates the options, loads the configuration, selects the
// checks, takes the results lock (not under NoSave) and reads what
// earlier runs left, once, into the run's context.
func prepare(ctx context.Context, o Options) (*runState, error) {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.ResultsDir == "" {
		o.ResultsDir = store.DefaultDir
	}
	if o.Trigger == "" {
		o.Trigger = record.TriggerManual
	}
	switch o.Trigger {
	case record.TriggerBoot, record.TriggerDeploymentChange, record.TriggerManual, record.TriggerDeadline:
	default:
		return nil, fmt.Errorf("%w: --trigger: %q is not one of boot, deployment-change, manual, deadline", ErrUsage, o.Trigger)
	}
	reg := o.Registry
	if reg == nil {
		reg = selftest.Default
	}
	cfg := o.Config
	if cfg == nil {
		var err error
		cfg, err = config.LoadFor(o.Root)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
	}
	h := selftest.NewHost(o.Root)
	h.NewSystemd = o.NewSystemd
	if o.Commands != nil {
		h.Commands = o.Commands
	}
	if !h.Offline {
		h.BootID = ReadBootID()
	}
	rc := selftest.NewRunContext(h, cfg)
	rc.Version = o.Version
	rc.ProbeBinary = o.ProbeBinary
	rc.Trigger, rc.ResultsDir = o.Trigger, o.ResultsDir
	// The site's checks are found now, for this run (check.d, greenboot):
	// a file that cannot become a check is named, never fatal.
	reg, found := reg.ForRun(rc)
	known := map[string]bool{}
	for _, c := range reg.All() {
		known[c.ID] = true
	}
	if err := cfg.CheckIDs(func(id string) bool { return known[id] || strings.HasPrefix(id, "site.") }); err != nil {
		h.Close()
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	checks, err := reg.Select(o.CheckIDs)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("%w: --check: %w", ErrUsage, err)
	}
	s := &runState{o: o, cfg: cfg, checks: checks, rc: rc, out: &Outcome{Problems: found}}

	if o.NoSave {
		// Read-only: no directory is made and no lock taken, so a --no-save
		// run changes nothing; it still sees what earlier runs left.
		s.st = &store.Store{Dir: o.ResultsDir}
		if _, err := os.Stat(o.ResultsDir); err != nil {
			return s, nil
		}
	} else {
		if s.st, err = store.Open(o.ResultsDir); err != nil {
			h.Close()
			return nil, err
		}
		t0 := time.Now()
		if s.unlock, err = s.st.Lock(ctx, cfg.Results.LockTimeout.D()); err != nil {
			h.Close()
			return nil, err
		}
		if d := time.Since(t0); d >= lockWaitWorthNoting {
			s.waited = append(s.waited, record.Wait{For: "the results lock (another run held it)", Sec: d.Seconds(), BoundSec: cfg.Results.LockTimeout.D().Seconds()})
		}
	}
	wantBanner := o.Report != nil && o.Report.MotdPath != ""
	var problems []string
	s.past, rc.History, problems = readHistory(s.st, h, wantBanner)
	s.out.Problems = append(s.out.Problems, problems...)
	return s, nil
}

// run runs the selected checks and returns the record.
func (s *runState) run(ctx context.Context) *record.Record {
	h := s.rc.Host
	rec := &record.Record{
		Schema:      record.SchemaVersion,
		ToolVersion: s.o.Version,
		BootID:      h.BootID,
		Trigger:     s.o.Trigger,
	}
	if h.Offline {
		rec.Sysroot = s.o.Root
	}
	rec.Hostname, _ = os.Hostname()
	rec.Waited = s.waited
	if s.o.Trigger == record.TriggerDeadline {
		// host.boot adds the jobs the boot still waits for.
		rec.Deadline = &record.Deadline{Bound: s.cfg.Health.BootDeadline.D().String()}
		if up, err := s.o.uptime(); err == nil {
			rec.Deadline.UptimeSec = up.Seconds()
		}
	}
	r := selftest.NewRunner(s.rc, s.checks)
	r.RunTimeout, r.OnResult = s.cfg.Checks.RunTimeout.D(), s.o.OnResult
	if h.SystemdBooted() {
		if sd, err := h.Systemd(ctx); err == nil {
			if m, err := sd.Manager(ctx); err == nil {
				rec.Boot = &m
			}
		}
	}
	r.Run(ctx, rec)
	return rec
}

// conclude applies the [health] policy, saves the record and the state
// that follows from it, reports, and requests the reboot health decided.
func (s *runState) conclude(ctx context.Context, rec *record.Record) *Outcome {
	o, h, cfg, out := s.o, s.rc.Host, s.cfg, s.out
	out.Record = rec
	saving := !o.NoSave
	// The [health] policy acts only on the verdict of a boot (the boot
	// run's, or the deadline run's that stood in for it): a manual run or
	// a deployment-change run (the host is still on the old boot) never
	// reboots or rolls back. health.Prepare acts at most once per boot. It runs before the save so the record
	// carries the decision, and the reboot is requested after the save.
	var pending *health.Pending
	if saving && record.JudgesBoot(o.Trigger) && !h.Offline {
		env := &health.Env{Store: s.st, Policy: cfg.Health, BootID: h.BootID, Commands: h.Commands, Tool: o.HealthTool, Rebooter: o.Rebooter, Root: h.Root}
		pending, out.HealthErr = health.Prepare(ctx, env, rec)
	}
	if saving {
		out.Path, out.SaveErr = save(s.st, s.rc, rec, cfg.Results.Keep)
		if dir := cfg.Report.TextfileDir; dir != "" && out.Path != "" {
			// Bounded: the directory is node_exporter's, and the reboot below
			// must not wait on it.
			tctx, cancel := context.WithTimeout(ctx, report.TextfileTimeout)
			out.ReportErr = report.WriteTextfile(tctx, dir, rec)
			cancel()
		}
	}
	if o.Report != nil {
		ro := *o.Report
		// The motd leads with the banner of an automatic rollback no
		// admin acknowledged, this run's own included, from the records
		// read before the run: the directory is not read again.
		runs := s.past.runs
		if out.Path != "" {
			runs = append(runs[:len(runs):len(runs)], rec)
		}
		ro.Banner = notice.MotdLines(notice.Unacknowledged(runs, s.past.ack))
		report.Emit(rec, ro)
		if ro.Journal && rec.Health != nil {
			_ = health.SendJournal(rec.ID, rec.Health)
		}
	}
	// Only a saved record may be followed by the reboot: the next boot
	// reads it to tell what happened.
	if pending != nil && out.Path != "" && out.SaveErr == nil {
		if err := pending.Reboot(ctx); err != nil {
			out.HealthErr = err
			if _, err := s.st.SaveRun(rec); err != nil {
				out.SaveErr = err
			}
		}
	}
	return out
}

// ReadBootID returns the kernel's id of this boot, without dashes as
// journald and ostree print it, or "" if it cannot be read.
func ReadBootID() string {
	b, err := rootfs.FS{}.ReadFile("/proc/sys/kernel/random/boot_id", rootfs.Kernel)
	if err != nil {
		return ""
	}
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
}

// lastDeployment is the state file that remembers the booted deployment.
type lastDeployment struct {
	BootID     string             `json:"boot_id"`
	Deployment *record.Deployment `json:"deployment"`
	Time       time.Time          `json:"time"`
	// Previous is the deployment of the boot before BootID, kept so a
	// second run on the same boot still classifies the transition.
	PreviousBootID string             `json:"previous_boot_id,omitempty"`
	Previous       *record.Deployment `json:"previous,omitempty"`
}

// past is what readHistory read of the run records beyond the History:
// the records and the acknowledgement the motd banner is made from.
type past struct {
	runs []*record.Record
	ack  *notice.Ack
}

// readHistory reads, once, what earlier runs left in st: the last booted
// deployment, the last boot's health action, a pending expectation, and,
// with wantBanner, the records and ack behind the unacknowledged-rollback
// banner. The run records are read only when something needs them: a
// last boot to take the action of, or the banner. Garbled files are
// returned as problems; they never stop the run.
func readHistory(st *store.Store, h *selftest.Host, wantBanner bool) (past, selftest.History, []string) {
	var problems []string
	var hist selftest.History
	var ld lastDeployment
	if ok, err := st.ReadJSON(store.LastDeploymentFile, &ld); err != nil {
		problems = append(problems, setAsideTorn(st, store.LastDeploymentFile, err))
	} else if ok {
		if ld.BootID == h.BootID && h.BootID != "" {
			// Another run on this boot already recorded it: compare with
			// the boot before.
			hist.LastDeployment, hist.LastBootID = ld.Previous, ld.PreviousBootID
		} else {
			hist.LastDeployment, hist.LastBootID = ld.Deployment, ld.BootID
		}
	}
	var p past
	filter, read := store.Filter{}, hist.LastBootID != "" || wantBanner
	if !read && st.Locked() {
		// Only the newest record, the one a power cut during the last save
		// could have torn, so that it is set aside now.
		filter, read = store.Filter{Last: 1}, true
	}
	if read {
		// Unreadable run records are skipped here as everywhere
		// (store.Runs); `results` and `status` name them. A torn one the
		// store set aside (under the lock) is named here, once.
		runs, bad, err := st.Runs(filter)
		if err != nil {
			problems = append(problems, err.Error())
		}
		for _, b := range bad {
			if errors.Is(b.Err, store.ErrTorn) && st.Locked() {
				problems = append(problems, b.Error())
			}
		}
		if filter.Last == 0 {
			p.runs = runs
		}
	}
	if wantBanner {
		var err error
		if p.ack, err = notice.ReadAck(st); err != nil {
			problems = append(problems, err.Error())
		}
	}
	// The last boot's health action, so deployment.transition can name a
	// rollback atomic-selftest ordered.
	if r := notice.LastAction(p.runs, hist.LastBootID); r != nil {
		hist.LastAction, hist.LastActionRecord = r.Health, r.ID
	}
	var ex record.Expectation
	if ok, err := st.ReadJSON(store.ExpectFile, &ex); err != nil {
		problems = append(problems, setAsideTorn(st, store.ExpectFile, err))
	} else if ok && (ex.CreatedBootID == "" || ex.CreatedBootID != h.BootID) && !h.Offline {
		hist.Expectation = &ex
	}
	return p, hist, problems
}

// setAsideTorn returns the problem of a state file that could not be
// read; a torn one is set aside first (under the lock only), so the next
// run neither reads it nor reports it again. The save that follows writes
// the state anew (an expectation is lost: the outer driver sees the boot
// record without it).
func setAsideTorn(st *store.Store, name string, err error) string {
	if !errors.Is(err, store.ErrTorn) || !st.Locked() {
		return err.Error()
	}
	aside, aerr := st.SetAside(name, time.Now())
	if aerr != nil {
		return errors.Join(err, aerr).Error()
	}
	return fmt.Sprintf("%v; set aside as %s", err, aside)
}

// save writes the record and the state that follows from it.
func save(st *store.Store, rc *selftest.RunContext, rec *record.Record, keep int) (string, error) {
	h := rc.Host
	if rc.History.Expectation != nil && rec.Expectation == nil {
		rec.Expectation = rc.History.Expectation
	}
	// SaveRun syncs the directory: the record is durable before anything
	// that depends on it changes.
	path, err := st.SaveRun(rec)
	if err != nil {
		return "", err
	}
	// Only once the record holding it is safe is the expectation consumed.
	if rec.Expectation != nil {
		if err := st.Remove(store.ExpectFile); err != nil {
			return path, err
		}
	}
	if rec.Deployment != nil && !h.Offline {
		ld := lastDeployment{BootID: h.BootID, Deployment: rec.Deployment, Time: rec.End}
		var old lastDeployment
		if ok, _ := st.ReadJSON(store.LastDeploymentFile, &old); ok {
			if old.BootID == h.BootID {
				ld.Previous, ld.PreviousBootID = old.Previous, old.PreviousBootID
			} else {
				ld.Previous, ld.PreviousBootID = old.Deployment, old.BootID
			}
		}
		if err := st.WriteJSON(store.LastDeploymentFile, ld); err != nil {
			return path, err
		}
	}
	if err := st.WriteJSON(store.LastRunFile, struct {
		ID      string         `json:"id"`
		BootID  string         `json:"boot_id"`
		End     time.Time      `json:"end"`
		Summary record.Summary `json:"summary"`
	}{rec.ID, rec.BootID, rec.End, rec.Summary}); err != nil {
		return path, err
	}
	if _, err := st.Prune(keep); err != nil {
		return path, err
	}
	return path, st.Sync()
}

package outer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Options bound and place one run of the driver.
type Options struct {
	Plan *plan.Plan
	// ArtifactsDir receives <host>/<NN-step>/ with the run record, the
	// deployment status before and after, the journal and the console.
	ArtifactsDir string
	// Parallel bounds how many hosts run at once (default 8).
	Parallel int
	// RebootTimeout bounds a reboot (and wait-up) until the host answers
	// with a new boot id (default 10m).
	RebootTimeout time.Duration
	// SelftestTimeout bounds the wait for the self-test's run record of a
	// boot (default 15m).
	SelftestTimeout time.Duration
	// CommandTimeout bounds a deployment command (default 30m: an upgrade
	// downloads a tree).
	CommandTimeout time.Duration
	// Poll is the backoff while waiting for reboots and self-tests.
	Poll Backoff
	// ResultsDir is where the host keeps run records
	// (default /var/lib/atomic-selftest).
	ResultsDir string
	// Selftest is the host binary (default atomic-selftest, on the host's
	// PATH).
	Selftest string
	// Repo is the host's ostree repository (default /ostree/repo).
	Repo string
	// PlanHint, if set, words the advice to use another built-in plan
	// (named as in plan.Profiles) in a not-applicable step's message, as the
	// caller's interface spells it (a CLI names its option).
	PlanHint func(plan string) string
	// OnEvent, if set, hears progress; it is called from the hosts'
	// goroutines and must be safe for that.
	OnEvent func(Event)
}

func (o *Options) defaults() {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.RebootTimeout <= 0 {
		o.RebootTimeout = 10 * time.Minute
	}
	if o.SelftestTimeout <= 0 {
		o.SelftestTimeout = 15 * time.Minute
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 30 * time.Minute
	}
	if o.ResultsDir == "" {
		o.ResultsDir = "/var/lib/atomic-selftest"
	}
	if o.Selftest == "" {
		o.Selftest = "atomic-selftest"
	}
	if o.Repo == "" {
		o.Repo = "/ostree/repo"
	}
	if o.Poll.Min <= 0 {
		o.Poll.Min = 500 * time.Millisecond
	}
	if o.Poll.Max <= 0 {
		o.Poll.Max = 10 * time.Second
	}
}

// Event is one line of progress.
type Event struct {
	Host, Step, Action string
	// Status is "start", StatusInfo (a finding such as the preflight, in
	// Message), or a step's final status.
	Status  string
	Message string
	Elapsed time.Duration
}

// StatusInfo is an Event that reports a finding, not a step's end.
const StatusInfo = "info"

// Run drives every machine through the plan, at most opts.Parallel at a
// time, each independently. It always returns a report of what ran, also
// when ctx was cancelled.
func Run(ctx context.Context, machines []transport.Machine, opts Options) *report.Report {
	opts.defaults()
	rep := &report.Report{Plan: opts.Plan.Name, Start: time.Now().UTC(), Hosts: make([]*report.HostReport, len(machines))}
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	dirs := map[string]int{}
	for i, m := range machines {
		// Names that differ only in characters a file name cannot hold
		// still get a directory each.
		dir := safeName(m.Name())
		if dirs[dir]++; dirs[dir] > 1 {
			dir = fmt.Sprintf("%s.%d", dir, dirs[dir])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
			}
			h := &hostRun{m: m, opts: &opts, dir: filepath.Join(opts.ArtifactsDir, dir), records: records{m: m, opts: &opts}}
			rep.Hosts[i] = h.steps(ctx)
		}()
	}
	wg.Wait()
	rep.End = time.Now().UTC()
	rep.Interrupted = ctx.Err() != nil
	rep.OK = !rep.Interrupted && len(rep.Hosts) > 0
	rep.CrossHost = machineIDs(rep.Hosts)
	for _, a := range rep.CrossHost {
		rep.OK = rep.OK && a.Status != report.AssertFail
	}
	rep.Summary = report.Summary{Hosts: len(rep.Hosts), Steps: map[string]int{}}
	for _, h := range rep.Hosts {
		rep.OK = rep.OK && h.OK
		if h.OK {
			rep.Summary.HostsOK++
		}
		for _, s := range h.Steps {
			rep.Summary.Steps[s.Status]++
		}
	}
	return rep
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if s == "" || s == "." || s == ".." {
		s = "_"
	}
	return s
}

// hostRun is the state of one host while its plan runs.
type hostRun struct {
	m    transport.Machine
	opts *Options
	// plan is the host's plan: opts.Plan, or with the auto profile the
	// built-in plan that fits the host once its preflight ran.
	plan *plan.Plan
	dir  string

	// fam is the plan's host family bound to this host: its status
	// command, its upgrade source and the state they keep.
	fam family.Family

	bootID    string
	record    *record.Record // the run record of bootID, once read
	expected  *record.Expectation
	unusable  error     // set when the host cannot be reached any more
	upAt      time.Time // when the host last answered with a new boot id
	pre       *report.Preflight
	records   records // the host's run records and how they are waited for
	stepIndex int
	// change is the last deployment command whose deployment-change run
	// the driver has not checked yet.
	change *deployChange
	// marks are the carry-over markers written so far whose /var file
	// every check-marks asserts; machineID is the host's /etc/machine-id.
	marks     []*carryMark
	machineID string
}

func (h *hostRun) emit(step, action, status, msg string, start time.Time) {
	if h.opts.OnEvent != nil {
		h.opts.OnEvent(Event{Host: h.m.Name(), Step: step, Action: action, Status: status, Message: msg, Elapsed: time.Since(start)})
	}
}

func (h *hostRun) steps(ctx context.Context) *report.HostReport {
	hr := &report.HostReport{Host: h.m.Name(), OK: true}
	if err := h.setPlan(h.opts.Plan); err != nil {
		// A plan made in code without Validate: every step says why.
		h.plan, h.unusable = h.opts.Plan, err
	}
	defer func() { hr.Preflight, hr.Plan, hr.MachineID = h.pre, h.plan.Name, h.machineID }()
	// h.plan may change during the first step (the auto profile, after
	// the preflight); every built-in plan begins with the same baseline,
	// so the loop goes on with the second step of the plan chosen.
	for i := 0; i < len(h.plan.Steps); i++ {
		s := h.plan.Steps[i]
		h.stepIndex = i + 1
		sr := h.step(ctx, s)
		hr.Steps = append(hr.Steps, sr)
		if sr.Status != report.StepPass && sr.Status != report.StepNotApplicable {
			hr.OK = false
		}
	}
	return hr
}

func (h *hostRun) step(ctx context.Context, s plan.Step) *report.StepReport {
	sr := &report.StepReport{Name: s.Name, Criterion: s.Criterion, Start: time.Now().UTC()}
	start := time.Now()
	defer func() { sr.DurationSec = time.Since(start).Seconds() }()
	switch {
	case ctx.Err() != nil:
		sr.Status, sr.Message = report.StepInterrupted, "not started: the driver was interrupted"
		return sr
	case h.unusable != nil:
		sr.Status, sr.Message = report.StepNotRun, "not run: "+h.unusable.Error()
		return sr
	}
	if why := h.notForFamily(s); why != "" {
		sr.Status, sr.Message = report.StepNotApplicable, why
		h.emit(s.Name, "", sr.Status, sr.Message, start)
		return sr
	}
	if why := h.notApplicable(s); why != "" {
		sr.Status, sr.Message = report.StepNotRun, why
		h.emit(s.Name, "", sr.Status, sr.Message, start)
		return sr
	}
	h.emit(s.Name, "", "start", "", start)
	sr.Artifacts = filepath.Join(h.dir, fmt.Sprintf("%02d-%s", h.stepIndex, safeName(s.Name)))
	if err := os.MkdirAll(sr.Artifacts, 0o700); err != nil {
		sr.Status, sr.Message = report.StepError, fmt.Sprintf("artifacts: %v", err)
		return sr
	}
	// The deployment status before: a host that is not up yet (the
	// baseline's wait-up) has none. A plan that begins with any other
	// action expects the host up: its boot id is read here, so that a
	// host rollback in this first step is judged against what it booted
	// before (without it, collect wanted the rejected deployment).
	if h.bootID == "" && (len(s.Actions) == 0 || s.Actions[0].Do != plan.ActWaitUp) {
		_, _ = h.currentBoot(ctx) // unreachable: the step's first action says so
	}
	if h.bootID != "" {
		if st, raw, err := h.fam.Status(ctx); err == nil {
			sr.Before = st.Booted()
			h.save(sr, "status-before.txt", raw)
		}
	}
	h.expected = nil
	sr.Status = report.StepPass
	h.change = nil
	acts := s.Actions
	for i := 0; i < len(acts); i++ {
		a := acts[i]
		// Before a reboot, the deployment-change run of the step's
		// deployment commands, unless an action checked it already.
		if a.Do == plan.ActReboot && h.change != nil {
			acts = slices.Insert(slices.Clone(acts), i, plan.Action{Do: plan.ActCheckPending})
			a = acts[i]
		}
		astart := time.Now()
		h.emit(s.Name, a.Do, "start", "", start)
		msg, err := h.do(ctx, s, a, sr)
		ar := report.ActionReport{Do: a.Do, Status: report.StepPass, Message: msg, DurationSec: time.Since(astart).Seconds()}
		if err != nil {
			ar.Status, ar.Message = h.classify(ctx, err), err.Error()
			sr.Status, sr.Message = ar.Status, fmt.Sprintf("%s: %v", a.Do, err)
		}
		sr.Actions = append(sr.Actions, ar)
		if err != nil {
			break
		}
	}
	if s.Deployments > 0 && sr.Status == report.StepPass {
		if err := h.checkDeployments(ctx, s, sr); err != nil {
			sr.Status, sr.Message = h.classify(ctx, err), "deployments: "+err.Error()
		}
	}
	if sr.Status == report.StepPass && sr.Message == "" && len(sr.Pending) > 0 {
		// What the host said before the reboot is the step's news.
		sr.Message = sr.Pending[len(sr.Pending)-1].String()
	}
	if sr.Status != report.StepPass && sr.Status != report.StepInterrupted {
		sr.Tail = h.tail(ctx)
		h.save(sr, "tail.txt", []byte(strings.Join(sr.Tail, "\n")+"\n"))
	}
	sr.BootID = h.bootID
	sr.DurationSec = time.Since(start).Seconds()
	// The step's own record is written last, whole, so an interrupted run
	// never leaves a half-recorded step behind.
	if data, err := json.MarshalIndent(sr, "", "  "); err == nil {
		h.save(sr, "step.json", append(data, '\n'))
	}
	msg := sr.Message
	if sr.Timing != nil {
		msg = strings.TrimPrefix(msg+"; "+sr.Timing.String(), "; ")
	}
	h.emit(s.Name, "", sr.Status, msg, start)
	return sr
}

// classify turns an action's error into a step status, and marks the host
// unusable when it can no longer be reached.
func (h *hostRun) classify(ctx context.Context, err error) string {
	var hk *transport.HostKeyError
	var mf *misfitError
	switch {
	case ctx.Err() != nil:
		return report.StepInterrupted
	case errors.As(err, &mf):
		// Once, here: the later steps are not run, with the reason.
		h.unusable = errors.New("the plan does not fit this host (see the first step)")
		return report.StepFail
	case errors.As(err, &hk), errors.Is(err, ErrUnreachable), errors.Is(err, transport.ErrConnection):
		h.unusable = err
		return report.StepError
	}
	return report.StepFail
}

func (h *hostRun) do(ctx context.Context, s plan.Step, a plan.Action, sr *report.StepReport) (string, error) {
	switch a.Do {
	case plan.ActWaitUp:
		id, err := WaitUp(ctx, h.m, "", orDefault(a.Timeout.Duration, h.opts.RebootTimeout), h.opts.Poll)
		if err != nil {
			return "", err
		}
		h.bootID, h.upAt = id, time.Now().UTC()
		if h.pre == nil {
			// Without a preflight (a host with no sh) every step is
			// tried, as before there was one.
			h.machineID = h.readMachineID(ctx)
			if pre, err := h.preflight(ctx); err != nil {
				h.emit("preflight", "", StatusInfo, err.Error(), time.Now())
			} else {
				h.pre = pre
				h.emit("preflight", "", StatusInfo, pre.String(), time.Now())
				if err := h.fit(pre); err != nil {
					return "", err
				}
			}
		}
		return "boot " + id, nil
	case plan.ActUpgradeSource:
		return h.fam.UpgradeSource(ctx)
	case plan.ActRun:
		return h.runCommand(ctx, a)
	case plan.ActCheckPending:
		return h.checkPending(ctx, s, sr)
	case plan.ActExpect:
		return h.expect(ctx, a, sr)
	case plan.ActReboot:
		id, err := RebootAndWait(ctx, h.m, h.bootID, orDefault(a.Timeout.Duration, h.opts.RebootTimeout), h.opts.Poll)
		if err != nil {
			return "", err
		}
		old := h.bootID
		h.bootID, h.record, h.upAt = id, nil, time.Now().UTC()
		return fmt.Sprintf("boot %s -> %s", record.Short(old), record.Short(id)), nil
	case plan.ActWaitSelftest:
		if s.ExpectHostRollback {
			return h.waitHostRollback(ctx, sr, orDefault(a.Timeout.Duration, h.opts.SelftestTimeout))
		}
		rec, err := h.waitSelftest(ctx, orDefault(a.Timeout.Duration, h.opts.SelftestTimeout))
		if err != nil {
			return "", err
		}
		h.gotRecord(ctx, sr, rec)
		return fmt.Sprintf("run record %s: %d checks, ok=%v; %s", rec.ID, rec.Summary.Total, rec.Summary.OK, sr.Timing), nil
	case plan.ActCollect:
		return h.collect(ctx, sr)
	case plan.ActMark:
		return h.mark(ctx, s, a)
	case plan.ActCheckMarks:
		return h.checkMarks(ctx, s, sr)
	}
	return "", fmt.Errorf("unknown action %q", a.Do)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// run runs argv on the host; a non-zero exit is an error that quotes the
// command's last words.
func (h *hostRun) run(ctx context.Context, timeout time.Duration, argv ...string) ([]byte, error) {
	return transport.Output(ctx, h.m, timeout, argv...)
}

// setPlan makes p the host's plan and binds its family to the host.
func (h *hostRun) setPlan(p *plan.Plan) error {
	fam, err := family.New(p.HostFamily(), family.Config{Machine: h.m, Repo: h.opts.Repo, UpgradeRef: p.UpgradeRef, CommandTimeout: h.opts.CommandTimeout})
	if err != nil {
		return err
	}
	h.plan, h.fam = p, fam
	return nil
}

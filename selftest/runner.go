package selftest

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// DefaultRunTimeout bounds a whole run.
const DefaultRunTimeout = 10 * time.Minute

// cleanupGrace is how long the runner waits for a timed-out check to return
// before it runs the check's cleanups anyway.
const cleanupGrace = 2 * time.Second

// Runner executes checks against a host.
type Runner struct {
	// RunContext is the host and what the run brings to it; the checks'
	// *T and Applies get it.
	RunContext *RunContext
	Checks     []*Check
	// RunTimeout bounds the whole run; zero means DefaultRunTimeout.
	RunTimeout time.Duration
	// Parallel bounds how many checks run at once; zero means 2×CPUs.
	Parallel int
	// Disabled maps a check id to the reason it is switched off (for
	// example the configuration file that disabled it); it is skipped.
	Disabled map[string]string
	// Demoted checks count as wanted even if declared required.
	Demoted map[string]bool
	// OnResult, if set, is called as each check finishes (from any
	// goroutine, one call at a time).
	OnResult func(record.Result)
}

// NewRunner runs checks under rc's configuration: a check it disables is
// skipped naming the file that disabled it, one it demotes counts as
// wanted. The boot's run and deployment.pending's run on a pending tree
// both start from it.
func NewRunner(rc *RunContext, checks []*Check) *Runner {
	r := &Runner{RunContext: rc, Checks: checks, Disabled: map[string]string{}, Demoted: map[string]bool{}}
	for id, file := range rc.Config.DisabledBy {
		r.Disabled[id] = "disabled by configuration " + file
	}
	for id := range rc.Config.DemotedBy {
		r.Demoted[id] = true
	}
	return r
}

func (r *Runner) runTimeout() time.Duration {
	if r.RunTimeout <= 0 {
		return DefaultRunTimeout
	}
	return r.RunTimeout
}

type outcome struct {
	res     record.Result
	updates []func(*record.Record)
}

// Run executes every check and returns the filled record: Start, End,
// Checks (sorted by id), Summary, and the updates checks queued. Identity
// fields (boot id, host name, trigger) are the caller's.
func (r *Runner) Run(ctx context.Context, rec *record.Record) {
	rec.Start = time.Now().UTC()
	timeout := r.runTimeout()
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	par := r.Parallel
	if par <= 0 {
		par = 2 * runtime.NumCPU()
	}
	sem := make(chan struct{}, par)

	byID := make(map[string]*Check, len(r.Checks))
	done := make(map[string]chan struct{}, len(r.Checks))
	for _, c := range r.Checks {
		byID[c.ID] = c
		done[c.ID] = make(chan struct{})
	}
	var mu sync.Mutex
	outcomes := make(map[string]*outcome, len(r.Checks))
	var cbMu sync.Mutex
	finish := func(o *outcome) {
		mu.Lock()
		outcomes[o.res.ID] = o
		mu.Unlock()
		if r.OnResult != nil {
			cbMu.Lock()
			r.OnResult(o.res)
			cbMu.Unlock()
		}
		close(done[o.res.ID])
	}

	var wg sync.WaitGroup
	for _, c := range r.Checks {
		wg.Add(1)
		go func(c *Check) {
			defer wg.Done()
			required := c.Required && !r.Demoted[c.ID]
			base := record.Result{ID: c.ID, Criterion: c.Criterion, Required: required, Start: time.Now().UTC()}
			// Wait for dependencies that are part of this run. Every check
			// finishes within its timeout plus cleanupGrace, even when the
			// run is cut, so this wait is bounded.
			for _, d := range c.Depends {
				if ch, ok := done[d]; ok {
					<-ch
				}
			}
			if st, msg := r.gate(c, outcomes, &mu); st != "" {
				base.Status, base.Message = st, msg
				finish(&outcome{res: base})
				return
			}
			if runCtx.Err() != nil {
				base.Status, base.Message = record.StatusError, fmt.Sprintf("not run: %s", runEnd(runCtx, timeout))
				finish(&outcome{res: base})
				return
			}
			select {
			case sem <- struct{}{}:
			case <-runCtx.Done():
				base.Status, base.Message = record.StatusError, fmt.Sprintf("not run: %s", runEnd(runCtx, timeout))
				finish(&outcome{res: base})
				return
			}
			o := r.execute(runCtx, c, base)
			<-sem
			finish(o)
		}(c)
	}
	wg.Wait()

	ids := make([]string, 0, len(outcomes))
	for id := range outcomes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	rec.Checks = rec.Checks[:0]
	for _, id := range ids {
		o := outcomes[id]
		rec.Checks = append(rec.Checks, o.res)
		for _, f := range o.updates {
			f(rec)
		}
	}
	rec.Summary = record.Summarise(rec.Checks)
	rec.End = time.Now().UTC()
}

func runEnd(ctx context.Context, timeout time.Duration) string {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Sprintf("the run's time limit of %s was reached", timeout)
	}
	return "the run was interrupted"
}

// gate decides, before running c, whether it is disabled, blocked by a
// dependency, or skipped because of one.
func (r *Runner) gate(c *Check, outcomes map[string]*outcome, mu *sync.Mutex) (record.Status, string) {
	if why, off := r.Disabled[c.ID]; off {
		if why == "" {
			why = "disabled by configuration"
		}
		return record.StatusSkip, why
	}
	if r.RunContext != nil && r.RunContext.Offline && !c.Offline {
		return record.StatusSkip, "not run against --sysroot: it needs the running system"
	}
	mu.Lock()
	defer mu.Unlock()
	var blocked, skipped []string
	for _, d := range c.Depends {
		o, ok := outcomes[d]
		if !ok {
			continue
		}
		switch {
		case o.res.Status.Bad():
			blocked = append(blocked, fmt.Sprintf("%s (%s)", d, o.res.Status))
		case o.res.Status == record.StatusSkip:
			skipped = append(skipped, d)
		}
	}
	if len(blocked) > 0 {
		return record.StatusBlocked, "blocked: depends on " + strings.Join(blocked, ", ")
	}
	if len(skipped) > 0 {
		return record.StatusSkip, "depends on " + strings.Join(skipped, ", ") + ", which was skipped"
	}
	return "", ""
}

// execute runs one check's applicability test and Run under its timeout,
// turning a panic into an error result.
func (r *Runner) execute(runCtx context.Context, c *Check, base record.Result) *outcome {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(runCtx, timeout)
	defer cancel()
	t := &T{RunContext: r.RunContext}
	start := time.Now()
	base.Start = start.UTC()
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		defer func() {
			if p := recover(); p != nil {
				stack := string(debug.Stack())
				t.mu.Lock()
				t.status = record.StatusError
				t.message = fmt.Sprintf("panic: %v", p)
				if t.details == nil {
					t.details = map[string]any{}
				}
				t.details["stack"] = stack
				t.mu.Unlock()
			}
		}()
		if c.Applies != nil {
			if why := c.Applies(ctx, r.RunContext); why != "" {
				t.Skip("%s", why)
				return
			}
		}
		c.Run(ctx, t)
	}()

	timedOut := false
	select {
	case <-returned:
	case <-ctx.Done():
		// The check may still return promptly now that ctx is done; a
		// result it gives in that instant is still a timeout.
		timedOut = true
	}
	o := &outcome{res: base}
	if timedOut {
		select {
		case <-returned:
		case <-time.After(cleanupGrace):
		}
		o.res.Status = record.StatusFail
		if runCtx.Err() != nil {
			o.res.Message = fmt.Sprintf("cut short: %s", runEnd(runCtx, r.runTimeout()))
		} else {
			o.res.Message = fmt.Sprintf("timed out after %s", fmtSeconds(timeout))
		}
	}
	runCleanups(t)
	t.mu.Lock()
	if !timedOut {
		o.res.Status = t.status
		if o.res.Status == "" {
			o.res.Status = record.StatusPass
		}
		o.res.Message = t.message
	}
	o.res.Evidence = append([]record.Evidence(nil), t.evidence...)
	if len(t.details) > 0 {
		o.res.Details = t.details
	}
	if !timedOut {
		o.updates = t.updates
	}
	t.mu.Unlock()
	o.res.DurationSec = time.Since(start).Seconds()
	return o
}

func runCleanups(t *T) {
	t.mu.Lock()
	cl := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(cl) - 1; i >= 0; i-- {
		func() {
			defer func() { _ = recover() }()
			cl[i]()
		}()
	}
}

func fmtSeconds(d time.Duration) string {
	s := d.Seconds()
	if s == float64(int64(s)) {
		return fmt.Sprintf("%d s", int64(s))
	}
	return fmt.Sprintf("%.1f s", s)
}

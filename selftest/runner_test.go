package selftest

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func mk(id string, run func(ctx context.Context, t *T), deps ...string) *Check {
	return &Check{ID: id, Criterion: "C1", Required: true, Description: "test " + id, Depends: deps, Offline: true, Run: run}
}

func runChecks(t *testing.T, r *Runner, checks ...*Check) map[string]record.Result {
	t.Helper()
	reg := &Registry{}
	for _, c := range checks {
		reg.Register(c)
	}
	r.Checks = reg.All()
	if r.RunContext == nil {
		r.RunContext = NewRunContext(NewHost("/"), nil)
	}
	rec := &record.Record{}
	r.Run(context.Background(), rec)
	out := map[string]record.Result{}
	for _, res := range rec.Checks {
		out[res.ID] = res
	}
	return out
}

func pass(context.Context, *T) {}

func TestRunnerDependencies(t *testing.T) {
	res := runChecks(t, &Runner{},
		mk("a.ok", pass),
		mk("a.bad", func(_ context.Context, t *T) { t.Fail("broken on purpose") }),
		mk("a.skip", func(_ context.Context, t *T) { t.Skip("not here") }),
		mk("b.after-ok", pass, "a.ok"),
		mk("b.after-bad", pass, "a.bad"),
		mk("b.after-skip", pass, "a.skip"),
		mk("c.chain", pass, "b.after-bad"),
	)
	for id, want := range map[string]record.Status{
		"a.ok": record.StatusPass, "a.bad": record.StatusFail, "a.skip": record.StatusSkip,
		"b.after-ok":   record.StatusPass,    // dependency passed: runs
		"b.after-bad":  record.StatusBlocked, // a dependent of a failed check is blocked, not failed
		"b.after-skip": record.StatusSkip,    // a dependent of a skipped check is skipped with the reason
		"c.chain":      record.StatusBlocked, // blocked propagates
	} {
		if res[id].Status != want {
			t.Errorf("%s: status %s (%q), want %s", id, res[id].Status, res[id].Message, want)
		}
	}
	if m := res["b.after-bad"].Message; !strings.Contains(m, "a.bad (fail)") {
		t.Errorf("blocked message %q does not name the failed dependency", m)
	}
}

func TestRunnerTimeoutAndPanic(t *testing.T) {
	hang := mk("a.hang", func(ctx context.Context, t *T) {
		// A check that ignores its context entirely: the runner must
		// still report it and finish.
		select {}
	})
	hang.Timeout = 200 * time.Millisecond
	var cleaned atomic.Bool
	polite := mk("a.polite", func(ctx context.Context, t *T) {
		t.Cleanup(func() { cleaned.Store(true) })
		<-ctx.Done()
		t.Pass("returned after the deadline")
	})
	polite.Timeout = 100 * time.Millisecond
	start := time.Now()
	res := runChecks(t, &Runner{},
		hang, polite,
		mk("a.panic", func(context.Context, *T) { panic("boom") }),
		mk("a.fine", pass),
	)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("run took %s: a hung check was not cut", d)
	}
	if r := res["a.hang"]; r.Status != record.StatusFail || r.Message != "timed out after 0.2 s" {
		t.Errorf("hung check: %s %q", r.Status, r.Message)
	}
	if r := res["a.polite"]; r.Status != record.StatusFail || !strings.HasPrefix(r.Message, "timed out") {
		t.Errorf("a check that passes after its deadline must still be a timeout: %s %q", r.Status, r.Message)
	}
	if !cleaned.Load() {
		t.Error("cleanup of the timed-out check did not run")
	}
	if r := res["a.panic"]; r.Status != record.StatusError || r.Message != "panic: boom" || r.Details["stack"] == nil {
		t.Errorf("panicking check: %s %q", r.Status, r.Message)
	}
	if res["a.fine"].Status != record.StatusPass {
		t.Errorf("the other checks must still report: %v", res["a.fine"])
	}
}

func TestRunnerWholeRunTimeout(t *testing.T) {
	slow := mk("a.slow", func(ctx context.Context, t *T) { <-ctx.Done() })
	slow.Timeout = time.Hour
	res := runChecks(t, &Runner{RunTimeout: 150 * time.Millisecond}, slow, mk("b.after", pass, "a.slow"))
	if r := res["a.slow"]; r.Status != record.StatusFail || !strings.Contains(r.Message, "time limit of 150ms") {
		t.Errorf("slow check: %s %q", r.Status, r.Message)
	}
	if r := res["b.after"]; r.Status != record.StatusBlocked {
		t.Errorf("dependent of a cut check: %s %q", r.Status, r.Message)
	}
}

func TestRunnerParallel(t *testing.T) {
	// Four checks that each wait for all four to have started: they only
	// pass if the runner really runs them at once.
	var started atomic.Int32
	all := make(chan struct{})
	var checks []*Check
	for _, id := range []string{"p.a", "p.b", "p.c", "p.d"} {
		checks = append(checks, mk(id, func(ctx context.Context, t *T) {
			if started.Add(1) == 4 {
				close(all)
			}
			select {
			case <-all:
			case <-ctx.Done():
				t.Fail("not run in parallel")
			}
		}))
	}
	for _, c := range checks {
		c.Timeout = 5 * time.Second
	}
	res := runChecks(t, &Runner{Parallel: 4}, checks...)
	for id, r := range res {
		if r.Status != record.StatusPass {
			t.Errorf("%s: %s %q", id, r.Status, r.Message)
		}
	}
}

func TestRunnerDisabledDemotedOffline(t *testing.T) {
	live := mk("a.live", pass)
	live.Offline = false
	h := NewRunContext(NewHost(t.TempDir()), nil)
	res := runChecks(t, &Runner{
		RunContext: h,
		Disabled:   map[string]string{"a.off": "disabled by configuration /etc/x.toml"},
		Demoted:    map[string]bool{"a.bad": true},
	}, live, mk("a.off", pass), mk("a.bad", func(_ context.Context, t *T) { t.Fail("x") }))
	if r := res["a.live"]; r.Status != record.StatusSkip || !strings.Contains(r.Message, "--sysroot") {
		t.Errorf("live check in sysroot mode: %s %q", r.Status, r.Message)
	}
	if r := res["a.off"]; r.Status != record.StatusSkip || r.Message != "disabled by configuration /etc/x.toml" {
		t.Errorf("disabled: %s %q", r.Status, r.Message)
	}
	if r := res["a.bad"]; r.Required {
		t.Error("demoted check still required")
	}
	var results []record.Result
	for _, r := range res {
		results = append(results, r)
	}
	if s := record.Summarise(results); !s.OK || len(s.WantedBad) != 1 {
		t.Errorf("a demoted failure must not fail the run: %+v", s)
	}
}

func TestVerdictFirstBadWins(t *testing.T) {
	res := runChecks(t, &Runner{}, mk("a.x", func(_ context.Context, t *T) {
		t.Fail("first")
		t.Error("second")
		t.Pass("third")
	}))
	if r := res["a.x"]; r.Status != record.StatusFail || r.Message != "first" {
		t.Errorf("got %s %q", r.Status, r.Message)
	}
}

func TestUpdateRecord(t *testing.T) {
	reg := &Registry{}
	reg.Register(mk("a.dep", func(_ context.Context, t *T) {
		t.UpdateRecord(func(r *record.Record) { r.Deployment = &record.Deployment{OSName: "fedora-atomic", Checksum: "abc"} })
	}))
	rec := &record.Record{}
	(&Runner{RunContext: NewRunContext(NewHost("/"), nil), Checks: reg.All()}).Run(context.Background(), rec)
	if rec.Deployment == nil || rec.Deployment.OSName != "fedora-atomic" {
		t.Fatalf("record update not applied: %+v", rec.Deployment)
	}
}

func TestRegisterRejectsBrokenDeclarations(t *testing.T) {
	for name, c := range map[string]*Check{
		"bad id":        {ID: "NoDot", Criterion: "C1", Description: "d", Run: pass},
		"bad criterion": {ID: "a.b", Criterion: "C11", Description: "d", Run: pass},
		"no run":        {ID: "a.b", Criterion: "C1", Description: "d"},
		"no doc":        {ID: "a.b", Criterion: "C1", Run: pass},
		"self dep":      {ID: "a.b", Criterion: "C1", Description: "d", Run: pass, Depends: []string{"a.b"}},
		// HostState narrows Offline: it means nothing on a live-only check.
		"host state, not offline": {ID: "a.b", Criterion: "C1", Description: "d", Run: pass, HostState: true},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Register did not panic", name)
				}
			}()
			(&Registry{}).Register(c)
		}()
	}
	reg := &Registry{}
	reg.Register(mk("a.one", pass))
	func() {
		defer func() {
			if recover() == nil {
				t.Error("duplicate id did not panic")
			}
		}()
		reg.Register(mk("a.one", pass))
	}()
	cyc := &Registry{}
	cyc.Register(mk("a.x", pass, "a.y"))
	cyc.Register(mk("a.y", pass, "a.x"))
	func() {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), "cycle") {
				t.Errorf("cycle: recover() = %v", r)
			}
		}()
		cyc.All()
	}()
}

func TestSelect(t *testing.T) {
	reg := &Registry{}
	reg.Register(mk("a.base", pass))
	reg.Register(mk("a.top", pass, "a.base"))
	reg.Register(mk("a.other", pass))
	got, err := reg.Select([]string{"a.top"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "a.base" || got[1].ID != "a.top" {
		t.Fatalf("Select pulled in %v", got)
	}
	if _, err := reg.Select([]string{"nope.nope"}); err == nil || !strings.Contains(err.Error(), `"nope.nope"`) {
		t.Fatalf("unknown id: %v", err)
	}
}

// Conclude fails with the problems joined, after ConcludeWith's lead, and
// passes with the message when there are none.
func TestConclude(t *testing.T) {
	res := runChecks(t, &Runner{},
		mk("a.none", func(_ context.Context, t *T) { t.Conclude(nil, "all %d fine", 3) }),
		mk("a.two", func(_ context.Context, t *T) { t.Conclude([]string{"x is off", "y is gone"}, "fine") }),
		mk("a.lead", func(_ context.Context, t *T) { t.ConcludeWith("z disagrees: ", []string{"x"}, "fine") }),
	)
	for id, want := range map[string]struct {
		st  record.Status
		msg string
	}{
		"a.none": {record.StatusPass, "all 3 fine"},
		"a.two":  {record.StatusFail, "x is off; y is gone"},
		"a.lead": {record.StatusFail, "z disagrees: x"},
	} {
		if r := res[id]; r.Status != want.st || r.Message != want.msg {
			t.Errorf("%s: %s %q, want %s %q", id, r.Status, r.Message, want.st, want.msg)
		}
	}
}

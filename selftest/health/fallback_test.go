package health

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/deployment"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// namedTool runs argv (a real reorder of the sysroot with libostree, or
// nothing) under a tool's name: bootc and rpm-ostree cannot run here, so
// their reorder is played by the one they make in the case at hand.
type namedTool struct {
	name  string
	argv  []string
	calls int
}

func (n *namedTool) Name() string { return n.name }
func (n *namedTool) Rollback(ctx context.Context) error {
	n.calls++
	if len(n.argv) == 0 {
		return nil
	}
	return commandTool{argv: n.argv, cmd: selftest.ExecCommander{}}.Rollback(ctx)
}

// fallbackBoot boots deployment checksum.0 of sr as the running host,
// its boot started after ostree wrote the bootloader configuration, and
// returns the root and the record of its deployment.transition run (the
// real check: a fallback when the booted deployment is not the default
// entry).
func fallbackBoot(t *testing.T, sr *ostreetest.Sysroot, checksum string, last *record.Deployment) (string, *record.Record) {
	t.Helper()
	root := sr.BootedRoot("fedora-atomic", checksum, 0, false)
	ostreetest.SetBootTime(t, root, time.Now().Add(2*time.Second))
	h := ostreetest.LiveHost(root)
	h.History.LastDeployment = last
	_, rec := checktest.WithDepends(t, h, "deployment.transition")
	rec.Trigger, rec.BootID = record.TriggerBoot, "fb"+strings.Repeat("0", 30)
	return root, rec
}

func keepPolicy(on bool) *Env {
	p := policy("record", 1)
	p.KeepFallback = on
	return &Env{Policy: p, BootID: "fb" + strings.Repeat("0", 30), Rebooter: &fakeRebooter{}}
}

// TestKeepFallbackRealSysroot: on a sysroot made by ostree, 28.2 is the
// default entry and the bootloader started 28.1 (deployment.transition:
// fallback). With keep_fallback the health step makes 28.1 the default
// through the rollback tool (here the libostree reorder a plain ostree
// host configures as rollback_command), reads the deployment list again
// to see it, requests no reboot, and never counts 28.2 as a rollback
// target again. A second run on the same boot finds no fallback (the
// configuration was written during the boot) and does nothing; the next
// boot starts 28.1 as the default.
func TestKeepFallbackRealSysroot(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	py := needGI(t)
	mod, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	last := &record.Deployment{OSName: "fedora-atomic", Checksum: c2, Serial: 0, Version: "28.2"}
	root, rec := fallbackBoot(t, sr, c1, last)
	if tr := rec.Transition; tr == nil || tr.Kind != record.TransitionFallback || tr.Expected.Checksum != c2 || rec.Deployment.Rollback != "" {
		t.Fatalf("fixture: transition %+v, rollback %q: want a fallback from 28.2 with no deployment after the booted one", tr, rec.Deployment.Rollback)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := keepPolicy(true)
	env.Store, env.Root = st, root
	tool := &namedTool{name: "command", argv: []string{py, filepath.Join(mod, "outer", "family", "rollback.py"), sr.Dir}}
	env.Tool = tool
	pending, err := Prepare(context.Background(), env, rec)
	if err != nil || pending != nil {
		t.Fatalf("prepare: pending %v, %v; want no reboot and no error", pending, err)
	}
	h := rec.Health
	want := "the bootloader fell back from 28.2 (" + record.Short(c2) + ") to 28.1 (" + record.Short(c1) + "); health.rollback_command made 28.1 (" + record.Short(c1) + ") the default, so the next boot starts it again"
	if h == nil || h.Action != record.HealthKeepFallback || h.Error != "" || h.Reason != want || h.Tool != "command" ||
		h.From.Checksum != c2 || h.To.Checksum != c1 {
		t.Fatalf("health %+v, want keep-fallback with %q", h, want)
	}
	if s := sr.Status(); s[0].Checksum != c1 || s[1].Checksum != c2 {
		t.Fatalf("boot order after keep-fallback %+v, want 28.1 first", s)
	}
	if !readStateOrFail(t, st).rolledBackFrom(c2) {
		t.Error("28.2 is not remembered as rolled back from: a later rollback could go to it")
	}
	if line := Line(h); !strings.Contains(line, "fell back from "+short(c2)+"(28.2) to "+short(c1)+"(28.1)") {
		t.Errorf("journal line %q", line)
	}

	// The same boot, a second run: the configuration is newer than the
	// boot, so no fallback, and nothing is done.
	h2 := ostreetest.LiveHost(root)
	h2.History.LastDeployment = rec.Deployment
	_, again := checktest.WithDepends(t, h2, "deployment.transition")
	again.Trigger = record.TriggerBoot
	if again.Transition.Kind == record.TransitionFallback {
		t.Fatalf("the second run still sees a fallback: %+v", again.Transition)
	}
	if _, err := Prepare(context.Background(), env, again); err != nil || tool.calls != 1 {
		t.Errorf("second run: %v, tool called %d times, want once in all", err, tool.calls)
	}
}

// TestKeepFallbackRules: where the tool would not make the booted
// deployment the default, nothing is run and the refusal says why; off by
// default; a tool that leaves the order as it was is reported.
func TestKeepFallbackRules(t *testing.T) {
	py := needGI(t)
	mod, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Three deployments: 28.3 the default, 28.2 booted, 28.1 behind it.
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	c3 := sr.Commit(ostreetest.Branch, "28.3", "c")
	sr.Deploy("fedora-atomic", ostreetest.Branch)
	order := func() []string {
		var out []string
		for _, s := range sr.Status() {
			out = append(out, s.Checksum)
		}
		return out
	}
	before := order()
	if strings.Join(before, " ") != strings.Join([]string{c3, c2, c1}, " ") {
		t.Fatalf("fixture: boot order %v, want 28.3 28.2 28.1", before)
	}
	booted := c2
	last := &record.Deployment{OSName: "fedora-atomic", Checksum: c3, Serial: 0, Version: "28.3"}
	root, rec := fallbackBoot(t, sr, booted, last)
	if rec.Transition.Kind != record.TransitionFallback || rec.Deployment.Rollback == "" {
		t.Fatalf("fixture: transition %+v, rollback %q", rec.Transition, rec.Deployment.Rollback)
	}
	reorder := []string{py, filepath.Join(mod, "outer", "family", "rollback.py"), sr.Dir}
	run := func(env *Env, tool *namedTool) *record.Health {
		t.Helper()
		st, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		env.Store, env.Root, env.Tool = st, root, tool
		r := *rec
		if p, err := Prepare(context.Background(), env, &r); err != nil || p != nil {
			t.Fatalf("prepare: %v %v", p, err)
		}
		return r.Health
	}

	// rpm-ostree rollback would make the deployment after the booted one
	// the default, not the booted one.
	rpm := &namedTool{name: "rpm-ostree", argv: reorder}
	h := run(keepPolicy(true), rpm)
	if h == nil || h.Action != record.HealthRefused || rpm.calls != 0 ||
		!strings.Contains(h.Reason, "keep_fallback: rpm-ostree rollback would make fedora-atomic/"+c1+".0 the default (the deployment after the booted one), not the booted 28.2") {
		t.Errorf("rpm-ostree with a deployment behind the booted one: %+v, %d calls; want a refusal naming it", h, rpm.calls)
	}
	if got := order(); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Errorf("boot order changed to %v", got)
	}

	// Off (the default): nothing is run.
	off := &namedTool{name: "bootc", argv: reorder}
	if h := run(keepPolicy(false), off); off.calls != 0 || (h != nil && h.Action == record.HealthKeepFallback) {
		t.Errorf("keep_fallback off: %+v, %d calls", h, off.calls)
	}

	// A tool that changes nothing: the record says what the default is.
	idle := &namedTool{name: "bootc"}
	h = run(keepPolicy(true), idle)
	if h == nil || idle.calls != 1 || !strings.Contains(h.Error, "after bootc rollback the default deployment is fedora-atomic/"+c3+".0, not the booted") {
		t.Errorf("a tool that reorders nothing: %+v", h)
	}

	// bootc rollback with the rollback (28.3, the default) queued before
	// the booted one reverts it: booted, then that rollback, then the
	// rest, which is the libostree swap of the first two here.
	bootc := &namedTool{name: "bootc", argv: reorder}
	h = run(keepPolicy(true), bootc)
	if h == nil || h.Action != record.HealthKeepFallback || h.Error != "" || bootc.calls != 1 {
		t.Fatalf("bootc: %+v", h)
	}
	if got := order(); got[0] != booted || got[1] != c3 {
		t.Errorf("boot order after bootc's revert %v, want %s then %s", got, booted[:10], c3[:10])
	}
}

// readStateOrFail reads health.json.
func readStateOrFail(t *testing.T, st *store.Store) *State {
	t.Helper()
	s, err := ReadState(st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

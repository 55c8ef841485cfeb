// Package checktest runs registered checks through the engine's real
// runner in tests of the area packages: find a check by id, run it (or it
// and what it depends on) against a host, get its result, assert its
// status and message. It is the one copy of that loop and that
// assertion; the area tests add their own fixtures around it.
package checktest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Registered returns a copy of the check registered under id, so a test
// may change its timeout, applicability or dependencies without touching
// the registry.
func Registered(t testing.TB, id string) *selftest.Check {
	t.Helper()
	for _, c := range selftest.Default.All() {
		if c.ID == id {
			cp := *c
			return &cp
		}
	}
	t.Fatalf("check %s is not registered", id)
	return nil
}

// Run runs checks in the run context rc (a host, its configuration and
// history) with the engine's runner and returns the record.
func Run(rc *selftest.RunContext, checks ...*selftest.Check) *record.Record {
	rec := &record.Record{}
	(&selftest.Runner{RunContext: rc, Checks: checks}).Run(context.Background(), rec)
	return rec
}

// One runs c alone in rc and returns its result.
func One(t testing.TB, h *selftest.RunContext, c *selftest.Check) record.Result {
	t.Helper()
	rec := Run(h, c)
	if len(rec.Checks) != 1 {
		t.Fatalf("the run of %s produced %d results", c.ID, len(rec.Checks))
	}
	return rec.Checks[0]
}

// WithDepends runs the check registered under id and what it depends on,
// and returns its result and the run record.
func WithDepends(t testing.TB, h *selftest.RunContext, id string) (record.Result, *record.Record) {
	t.Helper()
	checks, err := selftest.Default.Select([]string{id})
	if err != nil {
		t.Fatal(err)
	}
	rec := Run(h, checks...)
	for _, r := range rec.Checks {
		if r.ID == id {
			return r, rec
		}
	}
	t.Fatalf("check %s did not run", id)
	return record.Result{}, nil
}

// ByID runs the check registered under id alone in h, with its
// timeout replaced when timeout is non-zero, and returns its result.
func ByID(t testing.TB, h *selftest.RunContext, id string, timeout time.Duration) record.Result {
	t.Helper()
	c := Registered(t, id)
	if timeout > 0 {
		c.Timeout = timeout
	}
	return One(t, h, c)
}

// Expect fails t unless res has status and its message mentions every
// one of parts; a wrong status ends the test.
func Expect(t testing.TB, res record.Result, status record.Status, parts ...string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s: %s %q, want %s; evidence %+v", res.ID, res.Status, res.Message, status, res.Evidence)
	}
	for _, p := range parts {
		if !strings.Contains(res.Message, p) {
			t.Errorf("%s: message %q does not mention %q; evidence %+v", res.ID, res.Message, p, res.Evidence)
		}
	}
}

// LiveTree writes files (path under the root to content) into a new
// temporary directory and returns a run context that treats it as the
// running host (not --sysroot), so a check reads its /sys, /proc, /etc
// and /run there, and the directory.
func LiveTree(t testing.TB, files map[string]string) (*selftest.RunContext, string) {
	t.Helper()
	root := t.TempDir()
	for p, body := range files {
		testutil.WriteFile(t, root, p, body)
	}
	h := selftest.NewHost(root)
	h.Offline = false
	return selftest.NewRunContext(h, nil), root
}

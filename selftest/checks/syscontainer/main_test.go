package syscontainer

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
)

// The real static atomic-selftest (the probe) and static stand-ins for
// it, each built once per test process.
func probeBin(t testing.TB) string { return testutil.BuildBinary(t, "./cmd/atomic-selftest") }
func exit3Bin(t testing.TB) string {
	return testutil.BuildBinary(t, "./selftest/checks/syscontainer/testdata/exit3")
}
func sleeperBin(t testing.TB) string {
	return testutil.BuildBinary(t, "./selftest/checks/syscontainer/testdata/sleeper")
}

// newHost is a live host whose syscontainer state lives under dir.
func newHost(dir string) *selftest.Host {
	cfg := config.Defaults()
	cfg.Syscontainer.StateDir = filepath.Join(dir, "state")
	cfg.Syscontainer.RuncRoot = filepath.Join(dir, "runc")
	return selftest.NewHost("/", cfg)
}

// withOstree gives h an ostree repository (made by the real ostree) as
// the system containers' image store, and returns its path.
func withOstree(t testing.TB, h *selftest.Host, dir string) string {
	t.Helper()
	testutil.NeedCommand(t, "ostree", "ostree")
	repo := filepath.Join(dir, "repo")
	if out, err := exec.Command("ostree", "init", "--repo="+repo, "--mode=bare").CombinedOutput(); err != nil {
		t.Fatalf("ostree init: %v %s", err, out)
	}
	h.Config.Syscontainer.OstreeRepo = repo
	return repo
}

// ostreeRefs lists the repository's refs.
func ostreeRefs(t testing.TB, repo string) string {
	t.Helper()
	out, err := exec.Command("ostree", "refs", "--repo="+repo).CombinedOutput()
	if err != nil {
		t.Fatalf("ostree refs: %v %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// testHost is newHost with the real probe.
func testHost(t testing.TB, dir string) *selftest.Host {
	h := newHost(dir)
	h.ProbeBinary = probeBin(t)
	return h
}

// runCheck runs one check through the real runner and returns its result.
func runCheck(t testing.TB, h *selftest.Host, c *selftest.Check) selftest.Result {
	t.Helper()
	r := &selftest.Runner{Host: h, Checks: []*selftest.Check{c}}
	var rec selftest.Record
	r.Run(context.Background(), &rec)
	if len(rec.Checks) != 1 {
		t.Fatalf("runner returned %d results", len(rec.Checks))
	}
	return rec.Checks[0]
}

// registered returns the registered check with id.
func registered(t testing.TB, id string) *selftest.Check {
	t.Helper()
	cs, err := selftest.Default.Select([]string{id})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("check %s not registered", id)
	return nil
}

func evidence(r selftest.Result) string {
	var b strings.Builder
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "%s: expected %q seen %q\n", e.Name, e.Expected, e.Seen)
	}
	return b.String()
}

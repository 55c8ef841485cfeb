package syscontainer

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
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
func newHost(dir string) *selftest.RunContext {
	cfg := config.Defaults()
	cfg.Syscontainer.StateDir = filepath.Join(dir, "state")
	cfg.Syscontainer.RuncRoot = filepath.Join(dir, "runc")
	return selftest.NewRunContext(selftest.NewHost("/"), cfg)
}

// withOstree gives h an ostree repository (made by the real ostree) as
// the system containers' image store, and returns its path.
func withOstree(t testing.TB, h *selftest.RunContext, dir string) string {
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
func testHost(t testing.TB, dir string) *selftest.RunContext {
	h := newHost(dir)
	h.ProbeBinary = probeBin(t)
	return h
}

// runCheck runs one check through the real runner and returns its result.
var runCheck = checktest.One

// registered returns a copy of the registered check with id.
var registered = checktest.Registered

func evidence(r record.Result) string {
	var b strings.Builder
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "%s: expected %q seen %q\n", e.Name, e.Expected, e.Seen)
	}
	return b.String()
}

package syscontainer

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
)

// Binaries built once for all tests: the real static atomic-selftest (the
// probe) and a static program that exits 3.
var (
	probeBin   string
	exit3Bin   string
	sleeperBin string
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" || fuzzing() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "atomic-selftest-syscont-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	probeBin = filepath.Join(dir, "atomic-selftest")
	exit3Bin = filepath.Join(dir, "exit3")
	sleeperBin = filepath.Join(dir, "sleeper")
	err = buildStatic(probeBin, "github.com/atomic-selftest/atomic-selftest/cmd/atomic-selftest")
	if err == nil {
		err = buildStatic(exit3Bin, "./testdata/exit3")
	}
	if err == nil {
		err = buildStatic(sleeperBin, "./testdata/sleeper")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fuzzing reports whether this process runs fuzz targets only (test.sh
// runs them with -run '^$'): no binaries are needed then.
func fuzzing() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz") {
			return true
		}
	}
	return false
}

func buildStatic(out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// testHost is a live host whose syscontainer state lives under dir.
func testHost(dir string) *selftest.Host {
	cfg := config.Defaults()
	cfg.Syscontainer.StateDir = filepath.Join(dir, "state")
	cfg.Syscontainer.RuncRoot = filepath.Join(dir, "runc")
	h := selftest.NewHost("/", cfg)
	h.ProbeBinary = probeBin
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

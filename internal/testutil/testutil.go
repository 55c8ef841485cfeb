// Package testutil is the one small helper package for tests: deciding
// whether a test that needs a real component may skip, and small file
// helpers. It is not a framework.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireEnv names the variable that lists the components a test run must
// have. scripts/test.sh sets it to "all" after it installed and started
// everything, so a test that would skip there fails instead: CI never
// passes with a required suite skipped.
const RequireEnv = "ATOMIC_SELFTEST_REQUIRE"

// Required reports whether component must be available in this run.
func Required(component string) bool {
	v := os.Getenv(RequireEnv)
	if v == "" {
		return false
	}
	for _, c := range strings.Split(v, ",") {
		c = strings.TrimSpace(c)
		if c == "all" || c == component {
			return true
		}
	}
	return false
}

// Need skips t when component is unavailable (why says how it was
// found missing), or fails it when the run requires the component.
func Need(t testing.TB, component string, available bool, why string) {
	t.Helper()
	if available {
		return
	}
	if Required(component) {
		t.Fatalf("%s is required in this run (%s) but unavailable: %s", component, RequireEnv, why)
	}
	t.Skipf("%s unavailable: %s", component, why)
}

// NeedRoot needs uid 0.
func NeedRoot(t testing.TB) {
	t.Helper()
	Need(t, "root", os.Geteuid() == 0, "the test must run as root")
}

// NeedCommand needs a program on PATH and returns its path.
func NeedCommand(t testing.TB, component, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, component, err == nil, name+" is not on PATH")
	return p
}

// WriteFile writes data to dir/rel, creating parents.
func WriteFile(t testing.TB, dir, rel string, data string) string {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var built = map[string]string{}

// BuildBinary builds the main package pkg (e.g. "./cmd/atomic-selftest",
// relative to the module root) statically into a temporary directory once
// per test process and returns its path.
func BuildBinary(t testing.TB, pkg string) string {
	t.Helper()
	if p, ok := built[pkg]; ok {
		return p
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "atomic-selftest-bin-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// ModuleRoot finds the directory holding go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// NeedRunc needs root and runc: a runc container can be started.
func NeedRunc(t testing.TB) {
	t.Helper()
	NeedRoot(t)
	NeedCommand(t, "runc", "runc")
}

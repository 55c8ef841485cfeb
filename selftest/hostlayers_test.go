package selftest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

const module = "github.com/atomic-selftest/atomic-selftest/"

// hostRules are the host side's layer rules (docs/architecture.md,
// "Layers"): a package whose import path has the prefix may not depend,
// directly or through another package, on any of the listed packages.
var hostRules = []struct {
	prefix string
	not    []string
	why    string
}{
	{"selftest/checks/", []string{"selftest/store", "selftest/notice", "selftest/session", "selftest/health", "selftest/report", "selftest/format"},
		"a check reads the history the session handed it (t.History) and reports through its *T; it never opens the results directory, reports or prints"},
	{"selftest/ostree", []string{"selftest/format"},
		"the sysroot reader is a library: it escapes with record.Printable"},
	{"selftest/", []string{"outer/", "cmd/"},
		"the host side never imports the outer driver or a command"},
	{"cmd/atomic-selftest", []string{"outer/"},
		"the host side never imports the outer driver"},
}

// TestHostLayers checks the rules over `go list -deps`: every package of
// the host side and what it imports, transitively (test files aside).
func TestHostLayers(t *testing.T) {
	goCmd := testutil.NeedCommand(t, "go", "go")
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goCmd, "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./selftest/...", "./cmd/atomic-selftest/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		for _, r := range hostRules {
			if !strings.HasPrefix(pkg, r.prefix) {
				continue
			}
			checked++
			for _, dep := range f[1:] {
				dep, ok := strings.CutPrefix(dep, module)
				if !ok {
					continue
				}
				for _, n := range r.not {
					if dep == n || strings.HasPrefix(dep, n+"/") || (strings.HasSuffix(n, "/") && strings.HasPrefix(dep, n)) {
						t.Errorf("%s depends on %s: %s", pkg, dep, r.why)
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d package rules applied: go list listed too little:\n%s", checked, out)
	}
}

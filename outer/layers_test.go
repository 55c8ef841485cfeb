package outer

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/atomic-selftest/atomic-selftest"

// hostSideModels are the only packages of the host side the driver may
// import: the run record's schema and the reader of bootc's status
// (pure models and formats, no host access), plus the module's version
// and internal/junit (the JUnit XML model). Everything else of the host
// side (the store, the formatters, the checks) is the host binary's; a
// driver that needs one of its answers gets it through record or its own
// code. docs/architecture.md ("Layers") states the rule.
var hostSideModels = []string{
	module,
	module + "/internal/junit",
	module + "/selftest/bootc",
	module + "/selftest/record",
}

// The layer rule over what the packages under outer/ really link
// (`go list -deps`, tests excluded): of this module, only outer/ itself
// and hostSideModels; outer/outertest, which plays hosts for tests, also
// the project's test helpers (internal/testutil).
func TestOuterImportsOnlyTheHostSideModels(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list ./... in outer: %v", err)
	}
	pkgs := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(pkgs) < 8 {
		t.Fatalf("go list listed %d packages under outer/: the test reads nothing", len(pkgs))
	}
	for _, line := range pkgs {
		deps := strings.Fields(line)
		pkg, allowed := deps[0], hostSideModels
		if pkg == module+"/outer/outertest" {
			allowed = append(slices.Clip(allowed), module+"/internal/testutil")
		}
		for _, d := range deps[1:] {
			if !strings.HasPrefix(d, module) || strings.HasPrefix(d, module+"/outer") || slices.Contains(allowed, d) {
				continue
			}
			t.Errorf("%s links %s: the driver imports only %v of the host side", pkg, d, allowed)
		}
	}
}

// The driver never asks which family a host is: a family's difference
// lives in outer/family behind the Family interface.
func TestDriverHasNoFamilyBranch(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) < 10 {
		t.Fatalf("driver files: %v %v", files, err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Family" {
				if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "family" {
					t.Errorf("%s: reads a plan's Family: ask h.fam (outer/family) instead", fset.Position(sel.Pos()))
				}
			}
			return true
		})
	}
}

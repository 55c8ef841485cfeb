package outer

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"regexp"
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

// One model of what the host side models already: no package under
// outer/ (the simulated hosts aside, which write these documents) decodes
// bootc's status itself (selftest/bootc does: a struct tagged with
// bootc's field names is a second reader), or shortens ids its own way
// (record.Short does: a func named short… is a second shortener).
func TestOuterHasOneBootcReaderAndOneShort(t *testing.T) {
	bootcFields := regexp.MustCompile(`json:"(rollbackQueued|deploySerial|imageDigest)"`)
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() && p == "outertest" {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		n++
		file, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(x ast.Node) bool {
			switch x := x.(type) {
			case *ast.Field:
				if x.Tag != nil && bootcFields.MatchString(x.Tag.Value) {
					t.Errorf("%s: a field tagged %s: decode bootc status with selftest/bootc", fset.Position(x.Pos()), x.Tag.Value)
				}
			case *ast.FuncDecl:
				if strings.HasPrefix(strings.ToLower(x.Name.Name), "short") {
					t.Errorf("%s: func %s: shorten ids with record.Short", fset.Position(x.Pos()), x.Name.Name)
				}
			}
			return true
		})
		return nil
	})
	if err != nil || n < 30 {
		t.Fatalf("read %d files under outer/: %v", n, err)
	}
}

// Package checks_test holds the rule every area's package follows: host
// files are read through the Host's confined file API (selftest/rootfs),
// never around it.
package checks_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allowMarker, in a comment on the call's line or the line above, says
// why a call is not a read of a host file (a path handed to an external
// command, the tool's own directory, the running kernel's /proc).
const allowMarker = "outside the door:"

// aroundDoor are the calls that read or stat a path without the root's
// confinement and the read limits.
var aroundDoor = map[string]map[string]bool{
	"os":       {"ReadFile": true, "Open": true, "OpenFile": true, "Stat": true, "Lstat": true, "ReadDir": true, "Readlink": true, "DirFS": true},
	"ioutil":   {"*": true},
	"filepath": {"Walk": true, "WalkDir": true, "Glob": true, "EvalSymlinks": true},
	"syscall":  {"Stat": true, "Lstat": true, "Open": true, "Statfs": true},
	"unix":     {"Stat": true, "Lstat": true, "Open": true, "Openat": true, "Statfs": true},
}

// violations returns "file:line: call" for every call around the door in
// src that no allow comment explains.
func violations(fset *token.FileSet, f *ast.File, src []byte) []string {
	// A trailing comment explains its own line; a comment on lines of its
	// own explains the line after it.
	allowed := map[int]bool{}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if !strings.Contains(c.Text, allowMarker) {
				continue
			}
			start := fset.Position(c.Pos())
			before := src[start.Offset-start.Column+1 : start.Offset]
			l := fset.Position(c.End()).Line
			if strings.TrimSpace(string(before)) == "" {
				l = fset.Position(cg.End()).Line + 1
			}
			allowed[l] = true
		}
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		name := ""
		if id, ok := sel.X.(*ast.Ident); ok {
			if m := aroundDoor[id.Name]; m != nil && (m[sel.Sel.Name] || m["*"]) {
				name = id.Name + "." + sel.Sel.Name
			}
		}
		// Host.Path is the lexical root-prefixed path: for an external
		// command's argument only.
		if sel.Sel.Name == "Path" && len(call.Args) == 1 {
			name = "Path"
		}
		if name == "" {
			return true
		}
		pos := fset.Position(call.Pos())
		if !allowed[pos.Line] {
			out = append(out, pos.String()+": "+name)
		}
		return true
	})
	return out
}

// No check, and none of the readers the checks use (the sysroot reader
// selftest/ostree and the format libraries), reads host files around the
// door. A justified
// exception carries a comment with allowMarker and its reason.
func TestChecksReadHostFilesThroughTheDoor(t *testing.T) {
	fset := token.NewFileSet()
	n := 0
	scan := func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.Contains(p, "testdata") || strings.Contains(p, "ostreetest") {
			return err
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, p, src, parser.ParseComments)
		if err != nil {
			return err
		}
		n++
		for _, v := range violations(fset, f, src) {
			t.Errorf("%s: reads a host path around selftest.Host's file API (use h.ReadFile, h.Stat, h.ReadDir...; or explain with %q)", v, "// "+allowMarker+" why")
		}
		return nil
	}
	for _, dir := range []string{".", "../ostree", "../storageconf", "../cloudinitfmt", "../ignitionfmt", "../syscontainerfmt"} {
		if err := filepath.WalkDir(dir, scan); err != nil {
			t.Fatal(err)
		}
	}
	if n < 20 {
		t.Fatalf("scanned only %d files: is the test in selftest/checks?", n)
	}
}

// The scanner finds what it must and accepts an explained exception.
func TestDoorScannerFindsViolations(t *testing.T) {
	src := `package x
func f(h *H) {
	os.ReadFile(h.Path("/etc/x"))
	ioutil.ReadFile("/etc/y")
	// outside the door: rpm takes a path
	run("rpm", h.Path("/var/lib/rpm"))
	filepath.Walk("/", nil) // outside the door: test
	os.Stat("/run/x")
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(violations(fset, f, []byte(src)), "\n")
	want := "x.go:3:2: os.ReadFile\nx.go:3:14: Path\nx.go:4:2: ioutil.ReadFile\nx.go:8:2: os.Stat"
	if got != want {
		t.Fatalf("violations:\n%s\nwant:\n%s", got, want)
	}
}

// checkFile is where the check id lives: selftest/checks/AREA/THING.go,
// a '-' in THING written '_' (runtime.atomic-run: runtime/atomic_run.go).
func checkFile(id string) string {
	area, thing, _ := strings.Cut(id, ".")
	return filepath.Join(area, strings.ReplaceAll(thing, "-", "_")+".go")
}

// One check, one file: every registered check's registration and its Run
// function are in the file named after its id, so the name `list` shows
// leads to one file.
func TestOneCheckOneFile(t *testing.T) {
	ids := registeredIDs(t)
	for _, id := range ids {
		p := checkFile(id)
		src, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v (its registration and Run belong in %s)", id, err, p)
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		run := ""
		ast.Inspect(f, func(n ast.Node) bool {
			cl, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			var idv, runv string
			for _, e := range cl.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				k, _ := kv.Key.(*ast.Ident)
				switch {
				case k == nil:
				case k.Name == "ID":
					if bl, ok := kv.Value.(*ast.BasicLit); ok {
						idv = strings.Trim(bl.Value, `"`)
					}
				case k.Name == "Run":
					if v, ok := kv.Value.(*ast.Ident); ok {
						runv = v.Name
					}
				}
			}
			if idv == id {
				run = runv
			}
			return true
		})
		if run == "" {
			t.Errorf("%s is not registered in %s", id, p)
			continue
		}
		if f.Scope.Lookup(run) == nil {
			t.Errorf("%s: its Run function %s is not in %s", id, run, p)
		}
	}
}

// Area packages hold only checks: every file of selftest/checks/<area>
// other than its tests and doc.go registers exactly one check (and is
// named after it, TestOneCheckOneFile). Format readers are library
// packages (selftest/storageconf, cloudinitfmt, ignitionfmt,
// syscontainerfmt, ostree, ...); what several checks of an area share is
// a package under selftest/checks/internal.
func TestAreasHoldOnlyChecks(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("*", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	areas := 0
	for _, p := range files {
		dir, name := filepath.Split(p)
		if dir == "all/" || dir == "internal/" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if name == "doc.go" {
			areas++
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := registrations(t, p, src); n != 1 {
			t.Errorf("%s registers %d checks; an area package holds one file per check and doc.go (move a reader to a library package, a shared helper to selftest/checks/internal)", p, n)
		}
	}
	if areas < 7 {
		t.Fatalf("found %d areas with a doc.go", areas)
	}
}

// registrations counts the calls of selftest.Register in src, and of
// selftest.RegisterSource (the checks a file finds at run time, as
// check.d's: one file, one source).
func registrations(t *testing.T, name string, src []byte) int {
	f, err := parser.ParseFile(token.NewFileSet(), name, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		if call, ok := node.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "Register" || sel.Sel.Name == "RegisterSource") {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "selftest" {
					n++
				}
			}
		}
		return true
	})
	return n
}

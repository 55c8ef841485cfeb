// Package scripts holds the test scripts' own test: every Go tool that
// scripts/, the Makefile, .ci/ and the packaging scripts run must be pinned
// in go.mod as a tool dependency and run with `go tool`, so a new machine
// with empty Go caches and no ~/go/bin runs exactly what go.sum checksums.
package scripts

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

// builtinTools are the tools the go command ships (`go tool` with no
// arguments lists them); they need no pin.
var builtinTools = map[string]bool{
	"addr2line": true, "asm": true, "buildid": true, "cgo": true, "compile": true,
	"covdata": true, "cover": true, "doc": true, "fix": true, "link": true,
	"nm": true, "objdump": true, "pack": true, "pprof": true, "preprofile": true,
	"test2json": true, "trace": true, "vet": true,
}

// The forbidden commands and paths are spelled from their words here, so
// that this file itself never contains what it forbids (a plain grep of
// scripts/ for them stays empty).
var (
	goInstall = regexp.MustCompile(`\bgo\s+` + "install" + `\b`)
	// go run of anything but a package of this module (./...) fetches and
	// runs a tool that go.mod does not pin.
	goRunRemote = regexp.MustCompile(`\bgo\s+run\s+(?:-\S+\s+)*([^\s./][^\s]*)`)
	goTool      = regexp.MustCompile(`\bgo\s+tool\s+([A-Za-z0-9_.-]+)`)
	machinePath = regexp.MustCompile(`(?:/usr/local|\$HOME|\$\{HOME\}|~|\$\(HOME\))/go/bin|GOPATH\)?/bin`)
)

// toolViolations returns one line per use in text (a script named name)
// of a Go tool that is not pinned: installing one into GOBIN, go run of a remote module,
// go tool NAME where NAME is neither built in nor a tool in pinned, and
// a hard-coded Go installation path.
func toolViolations(name, text string, pinned map[string]bool) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		at := fmt.Sprintf("%s:%d", name, n)
		if goInstall.MatchString(line) {
			out = append(out, at+": installs a Go tool outside go.mod: pin it (go get -tool) and run it with go tool")
		}
		if m := goRunRemote.FindStringSubmatch(line); m != nil && !strings.HasPrefix(m[1], "$") {
			out = append(out, fmt.Sprintf("%s: go run %s: not a package of this module; pin it with go get -tool", at, m[1]))
		}
		for _, m := range goTool.FindAllStringSubmatch(line, -1) {
			if !builtinTools[m[1]] && !pinned[m[1]] {
				out = append(out, fmt.Sprintf("%s: go tool %s: no tool directive in go.mod provides it", at, m[1]))
			}
		}
		if m := machinePath.FindString(line); m != "" {
			out = append(out, fmt.Sprintf("%s: %s: a machine's Go path; use the go on PATH", at, m))
		}
	}
	return out
}

// pinnedTools reads go.mod's tool directives, by the command name go tool
// accepts (the last element of the package path).
func pinnedTools(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	pinned := map[string]bool{}
	for _, tool := range f.Tool {
		pinned[filepath.Base(tool.Path)] = true
	}
	return pinned
}

func TestScriptsRunOnlyPinnedGoTools(t *testing.T) {
	pinned := pinnedTools(t)
	if !pinned["staticcheck"] {
		t.Errorf("go.mod pins no staticcheck; scripts/test.sh runs go tool staticcheck")
	}
	var files []string
	for _, pattern := range []string{"*.sh", "*.d/*.sh", "../Makefile", "../.ci/*", "../rpm/*.sh", "../outer/testbed/*.sh", "../atomic-selftest.spec"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("found only %v: run from scripts/", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range toolViolations(f, string(data), pinned) {
			t.Error(v)
		}
	}
}

// The checker itself: each row is a line a script must not have, or may.
func TestToolViolations(t *testing.T) {
	pinned := map[string]bool{"staticcheck": true}
	for _, tc := range []struct {
		line string
		bad  bool
	}{
		{words("GOFLAGS=-mod=mod go", "install", "honnef.co/go/tools/cmd/staticcheck@2025.1.1"), true},
		{"go run gotest.tools/gotestsum@v1.13.0 ./...", true},
		{"go tool gotestsum ./...", true},
		{"export PATH=" + path.Join("/usr/local", "go", "bin") + ":$PATH", true},
		{"export PATH=" + path.Join("$HOME", "go", "bin") + ":$PATH", true},
		{"go tool staticcheck ./...", false},
		{"go tool cover -html=c.out", false},
		{"go run ./cmd/atomic-selftest list", false},
		{words("# go", "install", "is what we used to do"), false},
		{"go test -count=1 ./...", false},
	} {
		got := toolViolations("t.sh", tc.line, pinned)
		if (len(got) > 0) != tc.bad {
			t.Errorf("%q: violations %q, want bad=%v", tc.line, got, tc.bad)
		}
	}
}

// words joins its arguments with spaces.
func words(w ...string) string { return strings.Join(w, " ") }

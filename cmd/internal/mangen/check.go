package mangen

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// CheckCommitted fails t when the files committed under dist differ from
// what p renders now, or when one of them does not mention a flag; with
// update it rewrites them instead. The CLIs' tests call it, so a flag
// added to a command without `-update` fails the build.
func CheckCommitted(t *testing.T, p *Page, dist string, update bool, rerun string) {
	t.Helper()
	outs := p.Outputs()
	paths := make([]string, 0, len(outs))
	for path := range outs {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		want := outs[path]
		file := filepath.Join(dist, path)
		for _, name := range p.FlagNames() {
			if !mentions(path, want, name) {
				t.Errorf("%s: the rendered text does not mention %s", path, name)
			}
		}
		if update {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%v; run `%s`", err, rerun)
			continue
		}
		if string(got) != want {
			t.Errorf("%s is out of date with the CLI's flags; run `%s` and commit it", file, rerun)
		}
	}
}

// mentions reports whether text names the flag: in a man page as roff
// writes it (\-\-name), in a completion as it is typed.
func mentions(path, text, flag string) bool {
	if strings.HasPrefix(path, "man/") {
		flag = strings.ReplaceAll(flag, "-", `\-`)
		return regexp.MustCompile(`\\fB` + regexp.QuoteMeta(flag) + `\\fR`).MatchString(text)
	}
	return regexp.MustCompile(`(^|[\s'(*)])` + regexp.QuoteMeta(flag) + `([\s='\[]|$)`).MatchString(text)
}

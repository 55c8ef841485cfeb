package checks_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

// exampleBlock is a file docs/architecture.md shows whole: a marker
// naming it, then a Go code block.
var exampleBlock = regexp.MustCompile("(?s)<!-- example: (\\S+) -->\n```go\n(.*?)```\n")

// The docs' "Add a check in one file" example is the tested file, word for
// word, and it builds, vets and passes: a reader who follows the page
// starts from code that works.
func TestDocsExampleIsTheTestedFile(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := exampleBlock.FindAllSubmatch(doc, -1)
	if len(blocks) < 2 {
		t.Fatalf("docs/architecture.md shows %d example files, want the check and its test", len(blocks))
	}
	dirs := map[string]bool{}
	for _, b := range blocks {
		rel := string(b[1])
		file, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Errorf("docs/architecture.md shows %s: %v", rel, err)
			continue
		}
		if string(file) != string(b[2]) {
			t.Errorf("docs/architecture.md's copy of %s differs from the file; make them the same", rel)
		}
		dirs["./"+filepath.Dir(rel)] = true
	}
	goCmd := testutil.NeedCommand(t, "go", "go")
	for dir := range dirs {
		for _, args := range [][]string{{"vet", dir}, {"test", "-count=1", dir}} {
			cmd := exec.Command(goCmd, args...)
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("go %v: %v\n%s", args, err, out)
			}
		}
	}
}

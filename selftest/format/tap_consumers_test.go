package format

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// The TAP consumer tests feed our real output to the two parsers most TAP
// is read with: Perl's TAP::Parser, which Debian's prove (Test::Harness)
// runs, and node-tap's tap-parser (scripts/setup.d/46-formats.sh installs
// it with npm ci into testdata/tap-parser/node_modules). Each reads the
// stream in a small script under testdata/ that prints what the parser
// made of it as JSON; the tests assert the counts, the directives, the
// diagnostics read back, and that neither reports a parse error or a line
// it could not read. A stream that declares "TAP version 14" fails here:
// TAP::Parser reports it as a parse error.

// perlTAP is what TAP::Parser (testdata/prove/read.pl) reports.
type perlTAP struct {
	Version      int      `json:"version"`
	TestsRun     int      `json:"tests_run"`
	TestsPlanned *int     `json:"tests_planned"`
	SkipAll      *string  `json:"skip_all"`
	GoodPlan     bool     `json:"good_plan"`
	HasProblems  bool     `json:"has_problems"`
	ParseErrors  []string `json:"parse_errors"`
	// Passed counts ok lines and TODO lines (prove's view); ActualPassed
	// and ActualFailed the raw "ok" and "not ok".
	Passed       int        `json:"passed"`
	Failed       int        `json:"failed"`
	ActualPassed int        `json:"actual_passed"`
	ActualFailed int        `json:"actual_failed"`
	Todo         int        `json:"todo"`
	Skipped      int        `json:"skipped"`
	Tests        []perlTest `json:"tests"`
	Unknown      []string   `json:"unknown"`
}

type perlTest struct {
	Number      int            `json:"number"`
	OK          bool           `json:"ok"`
	Description string         `json:"description"`
	Directive   string         `json:"directive"`
	Explanation string         `json:"explanation"`
	YAML        map[string]any `json:"yaml"`
}

// nodeTAP is what tap-parser (testdata/tap-parser/read.mjs) reports.
type nodeTAP struct {
	OK      bool `json:"ok"`
	Count   int  `json:"count"`
	Pass    int  `json:"pass"`
	Fail    int  `json:"fail"`
	Skip    int  `json:"skip"`
	Todo    int  `json:"todo"`
	Version *int `json:"version"`
	Plan    struct {
		Start   int  `json:"start"`
		End     int  `json:"end"`
		SkipAll bool `json:"skipAll"`
	} `json:"plan"`
	Asserts []struct {
		ID   int            `json:"id"`
		OK   bool           `json:"ok"`
		Name string         `json:"name"`
		Skip any            `json:"skip"`
		Todo any            `json:"todo"`
		Diag map[string]any `json:"diag"`
	} `json:"asserts"`
	Extra       []string `json:"extra"`
	ParseErrors []any    `json:"parseErrors"`
}

func readWithPerl(t *testing.T, tap []byte) perlTAP {
	t.Helper()
	perl := testutil.NeedCommand(t, "prove", "perl")
	cmd := exec.Command(perl, filepath.Join("testdata", "prove", "read.pl"))
	cmd.Stdin = bytes.NewReader(tap)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("TAP::Parser: %v\n%s", err, stderrOf(err))
	}
	var r perlTAP
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("TAP::Parser's report: %v\n%s", err, out)
	}
	return r
}

func readWithNode(t *testing.T, tap []byte) nodeTAP {
	t.Helper()
	node := testutil.NeedCommand(t, "tap-parser", "node")
	_, err := os.Stat(filepath.Join("testdata", "tap-parser", "node_modules", "tap-parser", "package.json"))
	testutil.Need(t, "tap-parser", err == nil, "selftest/format/testdata/tap-parser has no node_modules: run scripts/setup.d/46-formats.sh's npm ci")
	cmd := exec.Command(node, filepath.Join("testdata", "tap-parser", "read.mjs"))
	cmd.Stdin = bytes.NewReader(tap)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tap-parser: %v\n%s", err, stderrOf(err))
	}
	var r nodeTAP
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("tap-parser's report: %v\n%s", err, out)
	}
	return r
}

// runProve runs prove as a user would on a saved stream and returns its
// output and whether it passed.
func runProve(t *testing.T, tap []byte) (string, bool) {
	t.Helper()
	prove := testutil.NeedCommand(t, "prove", "prove")
	f := filepath.Join(t.TempDir(), "results.tap")
	if err := os.WriteFile(f, tap, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(prove, "--exec", "cat", f).CombinedOutput()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("prove: %v", err)
	}
	return string(out), err == nil
}

// tapCounts is what both readers must count for a stream.
type tapCounts struct {
	tests, ok, notOK, skip, todo int
	// pass: the stream passes (every not ok is TODO).
	pass bool
}

func tapRecord(id, host string, start time.Time, res []record.Result) *record.Record {
	return &record.Record{Schema: record.SchemaVersion, ToolVersion: "0.1.0", ID: id, BootID: "b00t-" + id, Hostname: host,
		Trigger: record.TriggerBoot, Start: start, End: start.Add(time.Second), Checks: res, Summary: record.Summarise(res)}
}

// hostileStrings are messages, ids and evidence that try to end a test
// line, start a directive, a plan, a bail out or a YAML block, or act on
// a terminal.
var hostileStrings = []string{
	"line one\nnot ok 99 - forged\n1..99\nBail out! stop",
	"message # SKIP not really",
	"message # TODO not really",
	`back\slash\# TODO escaped hash`,
	"trailing backslash \\",
	"\x1b[2J\x1b]0;title\x07 carriage\rreturn tab\there",
	"del\x7f c1\u009b[31m",
	"  ---\n  message: forged\n  ...",
	`"quoted": {yaml: [flow]} & *alias !tag %directive`,
	"…ünïcode ✓",
}

func hostileResults() []record.Result {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var res []record.Result
	for i, s := range hostileStrings {
		st := []record.Status{record.StatusFail, record.StatusError, record.StatusBlocked}[i%3]
		res = append(res, record.Result{ID: "hostile.id" + strings.ReplaceAll(s, "\n", "\n#"), Criterion: "C" + s, Required: i%2 == 0,
			Status: st, Message: s, Start: start, Evidence: []record.Evidence{{Name: s, Expected: s, Seen: s}}})
	}
	res = append(res, record.Result{ID: "hostile.skip", Criterion: "C1", Required: true, Status: record.StatusSkip,
		Message: "reason # TODO not a todo\nok 1 - forged", Start: start})
	return res
}

func tapCases() map[string]struct {
	runs []*record.Record
	want tapCounts
} {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	r := func(id string, req bool, st record.Status, msg string) record.Result {
		return record.Result{ID: id, Criterion: "C1", Required: req, Status: st, Message: msg, Start: start,
			Evidence: []record.Evidence{{Name: "seen", Expected: "x", Seen: "y"}}}
	}
	every := []record.Result{
		r("a.pass", true, record.StatusPass, "fine"),
		r("a.fail", true, record.StatusFail, "booted 3f2a, expected 9c1e"),
		r("a.skip", true, record.StatusSkip, "not virtualised"),
		r("a.error", true, record.StatusError, "panic: boom"),
		r("a.blocked", true, record.StatusBlocked, "blocked: depends on a.fail (fail)"),
		r("a.wanted", false, record.StatusFail, "wanted check failed"),
		r("a.wantedblocked", false, record.StatusBlocked, "blocked: depends on a.fail (fail)"),
		r("a.wantedskip", false, record.StatusSkip, "not applicable"),
	}
	fixed := fixedRecords()
	hostile := hostileResults()
	return map[string]struct {
		runs []*record.Record
		want tapCounts
	}{
		"pass":     {fixed["pass"], tapCounts{tests: 2, ok: 2, skip: 1, pass: true}},
		"fail":     {fixed["fail"], tapCounts{tests: 4, notOK: 4, todo: 1}},
		"every":    {[]*record.Record{tapRecord("run-e", "h", start, every)}, tapCounts{tests: 8, ok: 3, notOK: 5, skip: 2, todo: 2}},
		"wanted":   {[]*record.Record{tapRecord("run-w", "h", start, every[5:])}, tapCounts{tests: 3, ok: 1, notOK: 2, skip: 1, todo: 2, pass: true}},
		"many":     {fixed["many"], tapCounts{tests: 6, ok: 2, notOK: 4, skip: 1, todo: 1}},
		"manyPass": {[]*record.Record{tapRecord("run-1", "h", start, every[:1]), tapRecord("run-2", "h", start, every[2:3])}, tapCounts{tests: 2, ok: 2, skip: 1, pass: true}},
		"none":     {nil, tapCounts{pass: true}},
		"noChecks": {[]*record.Record{tapRecord("run-0", "h", start, nil)}, tapCounts{pass: true}},
		"hostile": {[]*record.Record{tapRecord("run-h\n1..1 # SKIP", "evil\x1b]0;x\x07 # TODO", start, hostile)},
			tapCounts{tests: len(hostile), ok: 1, notOK: len(hostile) - 1, skip: 1, todo: len(hostile) / 2}},
		"hostileMany": {[]*record.Record{tapRecord("run-h\nnot ok 1", "h", start, hostile), tapRecord("run#2 # SKIP", "h", start, every)},
			tapCounts{tests: len(hostile) + 8, ok: 1 + 3, notOK: len(hostile) - 1 + 5, skip: 1 + 2, todo: len(hostile)/2 + 2}},
	}
}

// TestTAPReadByPerl: TAP::Parser (prove's parser) reads every shape of
// our TAP without a parse error and counts what we meant.
func TestTAPReadByPerl(t *testing.T) {
	for name, tc := range tapCases() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (TAP{}).Write(&buf, tc.runs); err != nil {
				t.Fatal(err)
			}
			got := readWithPerl(t, buf.Bytes())
			checkPerl(t, got, tc.runs, tc.want, buf.String())
		})
	}
}

func checkPerl(t *testing.T, got perlTAP, runs []*record.Record, want tapCounts, tap string) {
	t.Helper()
	if len(got.ParseErrors) > 0 || got.Version != 13 || !got.GoodPlan || len(got.Unknown) > 0 {
		t.Errorf("TAP::Parser: version %d, good plan %v, parse errors %q, unread lines %q\n%s", got.Version, got.GoodPlan, got.ParseErrors, got.Unknown, tap)
	}
	if got.TestsRun != want.tests || got.ActualPassed != want.ok || got.ActualFailed != want.notOK ||
		got.Skipped != want.skip || got.Todo != want.todo || got.HasProblems == want.pass {
		t.Errorf("TAP::Parser counted %d tests, %d ok, %d not ok, %d skipped, %d todo, problems %v; want %+v\n%s",
			got.TestsRun, got.ActualPassed, got.ActualFailed, got.Skipped, got.Todo, got.HasProblems, want, tap)
	}
	if want.tests == 0 && got.SkipAll == nil {
		t.Errorf("an empty plan is not a skip-all: %+v", got)
	}
	i := 0
	for _, rec := range runs {
		for _, c := range rec.Checks {
			if i >= len(got.Tests) {
				t.Fatalf("TAP::Parser saw %d tests, fewer than the checks", len(got.Tests))
			}
			g := got.Tests[i]
			i++
			wantDir := ""
			switch {
			case c.Status == record.StatusSkip:
				wantDir = "SKIP"
			case c.Status.Bad() && !c.Required:
				wantDir = "TODO"
			}
			if g.Number != i || g.OK == c.Status.Bad() || g.Directive != wantDir {
				t.Errorf("test %d (%q, %s): TAP::Parser read number %d, ok %v, directive %q", i, c.ID, c.Status, g.Number, g.OK, g.Directive)
			}
			if strings.ContainsAny(g.Description+g.Explanation, "\x1b\r\n\x07\x7f") {
				t.Errorf("test %d: a control character in %q / %q", i, g.Description, g.Explanation)
			}
			if !c.Status.Bad() {
				continue
			}
			// YAMLish reads back the exact message where its escapes
			// suffice: every control character here is below U+0100.
			if g.YAML["message"] != c.Message || g.YAML["status"] != string(c.Status) || g.YAML["criterion"] != c.Criterion {
				t.Errorf("test %d: YAML read back as %q, want message %q", i, g.YAML, c.Message)
			}
			if ev, _ := g.YAML["evidence"].([]any); len(ev) != len(c.Evidence) {
				t.Errorf("test %d: %d evidence items read back, want %d", i, len(ev), len(c.Evidence))
			} else if len(ev) == 0 {
				continue
			} else if e0, _ := ev[0].(map[string]any); e0["seen"] != c.Evidence[0].Seen || e0["name"] != c.Evidence[0].Name {
				t.Errorf("test %d: evidence read back as %q", i, e0)
			}
		}
	}
}

// TestTAPReadByNode: node-tap's tap-parser, in strict mode, reads every
// shape of our TAP without a parse error and counts what we meant.
func TestTAPReadByNode(t *testing.T) {
	for name, tc := range tapCases() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (TAP{}).Write(&buf, tc.runs); err != nil {
				t.Fatal(err)
			}
			got := readWithNode(t, buf.Bytes())
			tap := buf.String()
			if len(got.ParseErrors) > 0 || got.Version == nil || *got.Version != 13 || len(got.Extra) > 0 {
				t.Errorf("tap-parser: version %v, parse errors %v, unread lines %q\n%s", got.Version, got.ParseErrors, got.Extra, tap)
			}
			w := tc.want
			if got.Count != w.tests || got.Pass != w.ok || got.Fail != w.notOK || got.Skip != w.skip || got.Todo != w.todo || got.OK != w.pass {
				t.Errorf("tap-parser counted %d tests, %d pass, %d fail, %d skip, %d todo, ok %v; want %+v\n%s",
					got.Count, got.Pass, got.Fail, got.Skip, got.Todo, got.OK, w, tap)
			}
			if w.tests == 0 && !got.Plan.SkipAll {
				t.Errorf("an empty plan is not a skip-all: %+v", got.Plan)
			}
			i := 0
			for _, rec := range tc.runs {
				for _, c := range rec.Checks {
					if i >= len(got.Asserts) {
						t.Fatalf("tap-parser saw %d tests, fewer than the checks", len(got.Asserts))
					}
					a := got.Asserts[i]
					i++
					isSkip, isTodo := a.Skip != false, a.Todo != false
					if a.ID != i || a.OK == c.Status.Bad() || isSkip != (c.Status == record.StatusSkip) || isTodo != (c.Status.Bad() && !c.Required) {
						t.Errorf("test %d (%q, %s): tap-parser read id %d, ok %v, skip %v, todo %v", i, c.ID, c.Status, a.ID, a.OK, a.Skip, a.Todo)
					}
					if !strings.HasSuffix(a.Name, strings.ReplaceAll(oneLine(c.ID), `\\`, `\`)) {
						t.Errorf("test %d: name read as %q, want it to end in the check id %q", i, a.Name, oneLine(c.ID))
					}
					// A full YAML parser reads every escape back exactly.
					if c.Status.Bad() && (a.Diag["message"] != c.Message || a.Diag["criterion"] != c.Criterion) {
						t.Errorf("test %d: diagnostics read back as %q, want message %q", i, a.Diag, c.Message)
					}
				}
			}
		})
	}
}

// TestTAPProve runs prove as a user would (`prove --exec cat FILE`) on a
// passing and a failing stream: the verdict must be ours, with no parse
// error. Today's "TAP version 14" header made both fail with "TAP
// specified version 14 but we don't know about versions later than 13".
func TestTAPProve(t *testing.T) {
	for name, tc := range tapCases() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (TAP{}).Write(&buf, tc.runs); err != nil {
				t.Fatal(err)
			}
			out, passed := runProve(t, buf.Bytes())
			if passed != tc.want.pass || strings.Contains(out, "Parse errors") {
				t.Errorf("prove passed %v, want %v:\n%s\n--- TAP\n%s", passed, tc.want.pass, out, buf.String())
			}
			want := "Result: FAIL"
			switch {
			case tc.want.tests == 0:
				// A skip-all plan (no runs, or a run with no checks).
				want = "Result: NOTESTS"
			case tc.want.pass:
				want = "Result: PASS"
			}
			if !strings.Contains(out, want) {
				t.Errorf("prove did not say %q:\n%s", want, out)
			}
		})
	}
}

// TestTAPVersionHeader: the old header is refused by prove's parser, so
// the tests above would catch its return.
func TestTAPVersionHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := (TAP{}).Write(&buf, fixedRecords()["pass"]); err != nil {
		t.Fatal(err)
	}
	v14 := bytes.Replace(buf.Bytes(), []byte("TAP version 13\n"), []byte("TAP version 14\n"), 1)
	if bytes.Equal(v14, buf.Bytes()) {
		t.Fatalf("the output does not start with TAP version 13:\n%s", buf.String())
	}
	got := readWithPerl(t, v14)
	if len(got.ParseErrors) == 0 || !strings.Contains(got.ParseErrors[0], "version 14") {
		t.Errorf("TAP::Parser accepted a version 14 header: %+v", got)
	}
	if out, passed := runProve(t, v14); passed {
		t.Errorf("prove passed a version 14 stream:\n%s", out)
	}
}

// TestTAPFromBinary: the real binary's `results --format tap` on a saved
// results directory (hostile records among them) is read by both parsers
// and by prove as the user ran it.
func TestTAPFromBinary(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	good := tapRecord("", "atomic-host-1", start, fixedRecords()["pass"][0].Checks)
	bad := tapRecord("", "atomic-host-1", start.Add(time.Hour), hostileResults())
	saved := newSavedResults(t, good, bad)
	results := func(last string) []byte { return saved.results(last, "tap") }

	one := results("1")
	want := tapCounts{tests: len(bad.Checks), ok: 1, notOK: len(bad.Checks) - 1, skip: 1, todo: len(bad.Checks) / 2}
	checkPerl(t, readWithPerl(t, one), []*record.Record{bad}, want, string(one))
	if n := readWithNode(t, one); n.Count != want.tests || n.Todo != want.todo || len(n.ParseErrors) > 0 || n.OK {
		t.Errorf("tap-parser on results --last 1: %+v", n)
	}
	if out, passed := runProve(t, one); passed || strings.Contains(out, "Parse errors") {
		t.Errorf("prove on a failed run:\n%s", out)
	}

	// The newest passing run alone: prove says PASS, as the issue expected.
	// The store names the file (run-s<sequence>-<start>-<boot>.json):
	// find the bad run's by its start.
	badFiles, _ := filepath.Glob(filepath.Join(saved.dir, "run-*-"+bad.Start.UTC().Format("20060102T150405")+".*.json"))
	if len(badFiles) != 1 {
		t.Fatalf("the bad run's record file: %v", badFiles)
	}
	if err := os.Remove(badFiles[0]); err != nil {
		t.Fatal(err)
	}
	if out, passed := runProve(t, results("1")); !passed || !strings.Contains(out, "Result: PASS") {
		t.Errorf("prove on a passed run:\n%s", out)
	}
	saved.save(bad)

	all := results("0")
	want = tapCounts{tests: 2 + len(bad.Checks), ok: 3, notOK: len(bad.Checks) - 1, skip: 2, todo: len(bad.Checks) / 2}
	checkPerl(t, readWithPerl(t, all), []*record.Record{good, bad}, want, string(all))
	if n := readWithNode(t, all); n.Count != want.tests || n.Pass != want.ok || n.Skip != want.skip || len(n.ParseErrors) > 0 || len(n.Extra) > 0 {
		t.Errorf("tap-parser on results --last 0: %+v", n)
	}
}

// TestTAPYAMLBeyondLatin1: format characters above U+00FF are written as
// \u and \U escapes, which a full YAML parser reads back exactly; bytes
// that are not UTF-8 arrive as U+FFFD.
func TestTAPYAMLBeyondLatin1(t *testing.T) {
	msg := "rlo\u202etxt.exe tag\U000e0001 bad\xffbyte"
	res := []record.Result{{ID: "a.b", Criterion: "C1", Required: true, Status: record.StatusFail, Message: msg}}
	var buf bytes.Buffer
	if err := (TAP{}).Write(&buf, []*record.Record{tapRecord("run-u", "h", time.Now(), res)}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `message: "rlo\u202etxt.exe tag\U000e0001 bad`+"\ufffd"+`byte"`) {
		t.Errorf("escapes:\n%s", buf.String())
	}
	got := readWithNode(t, buf.Bytes())
	if len(got.Asserts) != 1 || got.Asserts[0].Diag["message"] != strings.ToValidUTF8(msg, "\ufffd") {
		t.Errorf("tap-parser read back %+v", got.Asserts)
	}
}

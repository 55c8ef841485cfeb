package format

import (
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

// The JUnit consumer tests read our real JUnit XML with junitparser
// (Debian's python3-junitparser, run by Debian's /usr/bin/python3:
// testdata/junitparser/read.py prints what it made of a file as JSON) and
// assert the suites, the cases, their results and that the counts we
// declare are the ones junitparser computes from the cases. No JUnit XSD
// (Jenkins' junit-10.xsd, which GitLab documents too) ships in a Debian
// package, so the schema itself is not checked here: docs/formats.md.

// debianPython is Debian's interpreter, where python3-junitparser is
// installed; a python3 earlier on PATH (pyenv) may not have it.
const debianPython = "/usr/bin/python3"

type junitRead struct {
	Root   string `json:"root"`
	Totals *struct {
		Tests, Failures, Errors int
	} `json:"totals"`
	Suites []junitReadSuite `json:"suites"`
}

type junitCounts struct {
	Tests    int     `json:"tests"`
	Failures int     `json:"failures"`
	Errors   int     `json:"errors"`
	Skipped  int     `json:"skipped"`
	Time     float64 `json:"time"`
}

type junitReadSuite struct {
	Name       string      `json:"name"`
	Hostname   string      `json:"hostname"`
	Timestamp  string      `json:"timestamp"`
	Declared   junitCounts `json:"declared"`
	Computed   junitCounts `json:"computed"`
	Properties []struct {
		Name, Value string
	} `json:"properties"`
	Cases []struct {
		Name      string `json:"name"`
		Classname string `json:"classname"`
		Results   []struct {
			Kind    string  `json:"kind"`
			Message *string `json:"message"`
			Type    *string `json:"type"`
			Text    *string `json:"text"`
		} `json:"results"`
		SystemOut *string `json:"system_out"`
		IsPassed  bool    `json:"is_passed"`
		IsSkipped bool    `json:"is_skipped"`
	} `json:"cases"`
}

func readWithJUnitparser(t *testing.T, path string) junitRead {
	t.Helper()
	_, err := os.Stat(debianPython)
	testutil.Need(t, "junitparser", err == nil, debianPython+" is missing (Debian's python3)")
	if err := exec.Command(debianPython, "-c", "import junitparser").Run(); err != nil {
		testutil.Need(t, "junitparser", false, "python3-junitparser is not installed: "+err.Error())
	}
	out, err := exec.Command(debianPython, filepath.Join("testdata", "junitparser", "read.py"), path).Output()
	if err != nil {
		t.Fatalf("junitparser on %s: %v\n%s", path, err, stderrOf(err))
	}
	var r junitRead
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("junitparser's report: %v\n%s", err, out)
	}
	return r
}

// checkJUnitRead compares what junitparser read with the runs written.
func checkJUnitRead(t *testing.T, got junitRead, runs []*record.Record) {
	t.Helper()
	if got.Root != "testsuites" || len(got.Suites) != len(runs) {
		t.Fatalf("junitparser read root <%s> with %d suites, want <testsuites> with %d", got.Root, len(got.Suites), len(runs))
	}
	var tests, failures, errors int
	for i, rec := range runs {
		s := got.Suites[i]
		c := s.Computed
		c.Time = s.Declared.Time
		if s.Declared != c {
			t.Errorf("suite %d: declared %+v, junitparser counts %+v from the cases", i, s.Declared, s.Computed)
		}
		sum := rec.Summary
		if s.Declared.Tests != sum.Total || s.Declared.Failures != sum.Failed+sum.Blocked || s.Declared.Errors != sum.Errors || s.Declared.Skipped != sum.Skipped {
			t.Errorf("suite %d counts %+v, the run's summary %+v", i, s.Declared, sum)
		}
		tests, failures, errors = tests+s.Declared.Tests, failures+s.Declared.Failures, errors+s.Declared.Errors
		if want := rec.End.Sub(rec.Start).Seconds(); s.Declared.Time < want-0.001 || s.Declared.Time > want+0.001 {
			t.Errorf("suite %d time %v, want %v", i, s.Declared.Time, want)
		}
		if !strings.HasPrefix(s.Name, "atomic-selftest.") || s.Hostname == "" {
			t.Errorf("suite %d: name %q, hostname %q", i, s.Name, s.Hostname)
		}
		if len(s.Cases) != len(rec.Checks) {
			t.Fatalf("suite %d: %d cases, want %d", i, len(s.Cases), len(rec.Checks))
		}
		for j, chk := range rec.Checks {
			cs := s.Cases[j]
			want := map[record.Status]string{record.StatusFail: "Failure", record.StatusBlocked: "Failure", record.StatusError: "Error", record.StatusSkip: "Skipped"}[chk.Status]
			kind := ""
			if len(cs.Results) == 1 {
				kind = cs.Results[0].Kind
			} else if len(cs.Results) > 1 {
				t.Errorf("case %s: %d results", chk.ID, len(cs.Results))
			}
			// XML 1.0 cannot carry most control characters: Go's
			// encoder writes U+FFFD for them, tabs, newlines and carriage
			// returns are kept.
			wantMsg := xmlText(chk.Message)
			if cs.Name != xmlText(chk.ID) || cs.Classname != "atomic-selftest."+xmlText(chk.Criterion) || kind != want ||
				cs.IsPassed != (chk.Status == record.StatusPass) || cs.IsSkipped != (chk.Status == record.StatusSkip) {
				t.Errorf("case %d.%d read as %q (%s) %s, want %q %s", i, j, cs.Name, cs.Classname, kind, chk.ID, want)
			}
			if kind != "" && (cs.Results[0].Message == nil || *cs.Results[0].Message != wantMsg) {
				t.Errorf("case %s: message read back as %v, want %q", chk.ID, cs.Results[0].Message, wantMsg)
			}
		}
	}
	if got.Totals == nil || got.Totals.Tests != tests || got.Totals.Failures != failures || got.Totals.Errors != errors {
		t.Errorf("document totals %+v, want %d tests, %d failures, %d errors", got.Totals, tests, failures, errors)
	}
}

// xmlText is s as it comes back from XML: characters XML 1.0 cannot hold
// become U+FFFD, as Go's encoding/xml writes them.
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r >= 0xd800 && r <= 0xdfff, r == 0xfffe, r == 0xffff:
			return '\ufffd'
		}
		return r
	}, strings.ToValidUTF8(s, "\ufffd"))
}

// TestJUnitReadByJunitparser: every shape of our JUnit XML, hostile
// strings among them, is read by junitparser as we meant it.
func TestJUnitReadByJunitparser(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for name, runs := range map[string][]*record.Record{
		"pass":     fixedRecords()["pass"],
		"fail":     fixedRecords()["fail"],
		"many":     fixedRecords()["many"],
		"hostile":  {tapRecord("run-h", "evil\x1b]0;x\x07\nhost", start, hostileResults())},
		"noChecks": {tapRecord("run-0", "h", start, nil)},
	} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "junit.xml")
			out, err := os.Create(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := (JUnit{}).Write(out, runs); err != nil {
				t.Fatal(err)
			}
			if err := out.Close(); err != nil {
				t.Fatal(err)
			}
			got := readWithJUnitparser(t, f)
			checkJUnitRead(t, got, runs)
			if name == "hostile" {
				// Attributes keep their newlines (&#xA;) and messages their
				// text, so junitparser gives back what the check said.
				if m := got.Suites[0].Cases[0].Results[0].Message; m == nil || *m != hostileStrings[0] {
					t.Errorf("message with newlines read back as %v", m)
				}
			}
		})
	}
}

// TestJUnitFromBinary: the built binary's `results --format junit` on a
// saved results directory is read by junitparser.
func TestJUnitFromBinary(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	runs := []*record.Record{
		tapRecord("", "atomic-host-1", start, fixedRecords()["fail"][0].Checks),
		tapRecord("", "atomic-host-1", start.Add(time.Hour), hostileResults()),
	}
	out := newSavedResults(t, runs...).results("0", "junit")
	f := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		t.Fatal(err)
	}
	checkJUnitRead(t, readWithJUnitparser(t, f), runs)
}

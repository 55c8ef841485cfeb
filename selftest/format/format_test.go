package format

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func fixedRecords() map[string][]*record.Record {
	start := time.Date(2018, 6, 1, 12, 0, 0, 0, time.UTC)
	ok := []record.Result{
		{ID: "host.boot", Criterion: "C1", Required: true, Status: record.StatusPass, Message: "multi-user.target reached", DurationSec: 0.012, Start: start},
		{ID: "cloudinit.finished", Criterion: "C7", Required: true, Status: record.StatusSkip, Message: "not virtualised", Start: start},
	}
	bad := []record.Result{
		{ID: "deployment.expected", Criterion: "C3", Required: true, Status: record.StatusFail, DurationSec: 0.003, Start: start,
			Message:  "booted 3f2a…(28.20180601.0), expected 9c1e…(28.20180515.1)",
			Evidence: []record.Evidence{{Name: "checksum", Expected: "9c1e", Seen: "3f2a"}, {Name: "note", Seen: "a <b> & \"c\""}}},
		{ID: "runtime.run", Criterion: "C8", Required: true, Status: record.StatusBlocked, Message: "blocked: depends on runtime.service (fail)", Start: start},
		{ID: "runtime.service", Criterion: "C9", Required: true, Status: record.StatusFail, Message: "docker.service is failed # not active", Start: start},
		{ID: "syscontainer.atomic", Criterion: "C10", Required: false, Status: record.StatusError, Message: "panic: boom", Start: start},
	}
	// The release criteria pass while a site check fails: each output
	// says which group failed.
	site := []record.Result{
		ok[0],
		{ID: "site.policy", Criterion: "SITE", Required: true, Status: record.StatusPass, Message: "the [policy] holds: 1 units active, 0 packages present, 0 absent", DurationSec: 0.004, Start: start},
		{ID: "site.10-app", Criterion: "SITE", Required: true, Status: record.StatusFail, DurationSec: 0.2, Start: start,
			Message:  "/etc/atomic-selftest/check.d/required/10-app exited 3: db down: connection refused",
			Evidence: []record.Evidence{{Name: "output", Seen: `checking the app\ndb down: connection refused`}}},
	}
	mk := func(id, boot string, res []record.Result) *record.Record {
		return &record.Record{Schema: 1, ToolVersion: "0.1.0", ID: id, BootID: boot, Hostname: "atomic-host-1", Trigger: "boot",
			Start: start, End: start.Add(1500 * time.Millisecond), Checks: res, Summary: record.Summarise(res),
			Deployment: &record.Deployment{OSName: "fedora-atomic", Checksum: "3f2a0000000000000000", Serial: 0, Version: "28.20180601.0", Refspec: "fedora-atomic:fedora/28/x86_64/atomic-host"},
			Transition: &record.Transition{Kind: "upgrade"}}
	}
	return map[string][]*record.Record{
		"pass": {mk("run-1", "b00t1", ok)},
		"fail": {mk("run-2", "b00t2", bad)},
		"many": {mk("run-1", "b00t1", ok), mk("run-2", "b00t2", bad)},
		"site": {mk("run-3", "b00t3", site)},
	}
}

// TestGolden compares every format for every case with testdata/.
func TestGolden(t *testing.T) {
	time.Local = time.UTC
	for name, runs := range fixedRecords() {
		for _, f := range Names() {
			fm, _ := Get(f, Options{List: name == "many"})
			var buf bytes.Buffer
			if err := fm.Write(&buf, runs); err != nil {
				t.Fatalf("%s/%s: %v", name, f, err)
			}
			golden := filepath.Join("testdata", name+"."+f)
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", golden, buf.String(), want)
			}
		}
	}
}

func TestJUnitStructure(t *testing.T) {
	var buf bytes.Buffer
	if err := (JUnit{}).Write(&buf, fixedRecords()["many"]); err != nil {
		t.Fatal(err)
	}
	var doc JUnitSuites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not well-formed: %v", err)
	}
	if doc.Tests != 6 || doc.Failures != 3 || doc.Errors != 1 || doc.Suites[0].Skipped != 1 || len(doc.Suites) != 2 {
		t.Errorf("totals: %+v", doc)
	}
	s := doc.Suites[1]
	if s.Name != "atomic-selftest.atomic-host-1" || s.Cases[0].Name != "deployment.expected" || s.Cases[0].Failure == nil {
		t.Errorf("suite: %+v", s)
	}
	if !strings.Contains(s.Cases[0].Failure.Text, `note: a <b> & "c"`) {
		t.Errorf("evidence not escaped and restored: %q", s.Cases[0].Failure.Text)
	}
}

func TestTAPDirectives(t *testing.T) {
	var buf bytes.Buffer
	if err := (TAP{}).Write(&buf, fixedRecords()["fail"]); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"TAP version 13\n1..4\n",
		"not ok 1 - deployment.expected\n  ---\n",
		`  message: "booted 3f2a…(28.20180601.0), expected 9c1e…(28.20180515.1)"`,
		`not ok 3 - runtime.service` + "\n",
		`not ok 4 - syscontainer.atomic # TODO wanted check: panic: boom`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("TAP lacks %q:\n%s", want, out)
		}
	}
	// A '#' in a message must not start a directive on the test line.
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "not ok 3") && strings.Contains(l, " # ") {
			t.Errorf("unescaped directive: %q", l)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	runs := fixedRecords()["fail"]
	var buf bytes.Buffer
	if err := (JSON{}).Write(&buf, runs); err != nil {
		t.Fatal(err)
	}
	var back record.Record
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Summary.OK || back.Checks[0].Evidence[0].Expected != "9c1e" || back.Deployment.Version != "28.20180601.0" {
		t.Errorf("round trip lost data: %+v", back)
	}
}

func TestTextColorOnlyWhenAsked(t *testing.T) {
	var plain, color bytes.Buffer
	_ = Text{}.Write(&plain, fixedRecords()["fail"])
	_ = Text{Color: true}.Write(&color, fixedRecords()["fail"])
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("escape codes without Color")
	}
	if !strings.Contains(color.String(), "\x1b[31mFAIL") {
		t.Error("no red FAIL with Color")
	}
}

// Host-supplied strings reach no human output with their control
// characters. Repro (issue 17 item 7): the old text and TAP formats wrote
// the ESC and the carriage return of a host name, version, check message
// and evidence as they were.
func TestHumanOutputEscapesControls(t *testing.T) {
	runs := fixedRecords()["fail"]
	rec := runs[0]
	rec.Hostname = "evil\x1b]0;pwned\x07"
	rec.Deployment.Version = "28\x1b[31m"
	rec.Checks[0].Message = "booted\rPASS"
	rec.Checks[0].Evidence[1].Seen = "\x1b[2J"
	rec.Checks[2].Status = record.StatusSkip
	rec.Checks[2].Message = "skipped\r\x1b[1A"
	for _, f := range []Formatter{Text{}, Text{Verbose: true}, TAP{}} {
		var buf bytes.Buffer
		if err := f.Write(&buf, runs); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if i := strings.IndexAny(out, "\x1b\r\x07"); i >= 0 {
			t.Errorf("%T: a control character in the output at %d: %q", f, i, out[max(0, i-20):min(len(out), i+20)])
		}
		if !strings.Contains(out, `booted\rPASS`) && !strings.Contains(out, `"booted\rPASS"`) {
			t.Errorf("%T: the escaped message is missing:\n%s", f, out)
		}
	}
}

package outer

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
)

// junit10 is the structure of Jenkins' junit-10.xsd (jenkinsci/xunit-plugin,
// src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd),
// which Jenkins' and GitLab's readers accept: for each element, its
// allowed attributes (true = required) and children.
var junit10 = map[string]struct {
	attrs    map[string]bool
	children []string
}{
	"testsuites": {map[string]bool{"name": false, "time": false, "tests": false, "failures": false, "errors": false}, []string{"testsuite"}},
	"testsuite": {map[string]bool{"name": true, "tests": true, "failures": true, "errors": true, "group": false, "time": false,
		"skipped": false, "timestamp": false, "hostname": false, "id": false, "package": false, "file": false, "log": false, "url": false},
		[]string{"testsuite", "properties", "testcase", "system-out", "system-err"}},
	"properties": {map[string]bool{}, []string{"property"}},
	"property":   {map[string]bool{"name": true, "value": true}, nil},
	"testcase": {map[string]bool{"name": true, "time": false, "classname": false, "group": false},
		[]string{"skipped", "error", "failure", "system-out", "system-err"}},
	"failure":    {map[string]bool{"type": false, "message": false}, nil},
	"error":      {map[string]bool{"type": false, "message": false}, nil},
	"skipped":    {map[string]bool{"type": false, "message": false}, nil},
	"system-out": {map[string]bool{}, nil},
	"system-err": {map[string]bool{}, nil},
}

// SUREFIRE_TIME of the schema.
var surefireTime = regexp.MustCompile(`^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?$`)

// checkJUnit checks a document against junit10 and that the counters
// add up.
func checkJUnit(data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []string
	var suite *struct{ want, got [4]int }
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			name := el.Name.Local
			rule, ok := junit10[name]
			if !ok {
				return fmt.Errorf("element <%s> is not in the schema", name)
			}
			if len(stack) == 0 && name != "testsuites" {
				return fmt.Errorf("root is <%s>", name)
			}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				allowed := false
				for _, c := range junit10[parent].children {
					allowed = allowed || c == name
				}
				if !allowed {
					return fmt.Errorf("<%s> inside <%s> is not allowed", name, parent)
				}
			}
			have := map[string]string{}
			for _, a := range el.Attr {
				if _, ok := rule.attrs[a.Name.Local]; !ok {
					return fmt.Errorf("<%s> has attribute %s, not in the schema", name, a.Name.Local)
				}
				have[a.Name.Local] = a.Value
			}
			for a, req := range rule.attrs {
				if _, ok := have[a]; req && !ok {
					return fmt.Errorf("<%s> lacks required attribute %s", name, a)
				}
			}
			if v, ok := have["time"]; ok && (name == "testsuite" || name == "testsuites") && !surefireTime.MatchString(v) {
				return fmt.Errorf("<%s time=%q> does not match SUREFIRE_TIME", name, v)
			}
			switch name {
			case "testsuite":
				suite = &struct{ want, got [4]int }{}
				for i, a := range []string{"tests", "failures", "errors", "skipped"} {
					suite.want[i], _ = strconv.Atoi(have[a])
				}
			case "testcase":
				suite.got[0]++
			case "failure":
				suite.got[1]++
			case "error":
				suite.got[2]++
			case "skipped":
				suite.got[3]++
			}
			stack = append(stack, name)
		case xml.EndElement:
			if el.Name.Local == "testsuite" && suite.want != suite.got {
				return fmt.Errorf("testsuite counters tests/failures/errors/skipped %v, but its cases have %v", suite.want, suite.got)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && strings.TrimSpace(string(el)) != "" {
				if p := stack[len(stack)-1]; p == "testsuites" || p == "testsuite" || p == "testcase" || p == "properties" {
					return fmt.Errorf("text inside <%s>", p)
				}
			}
		}
	}
}

func TestReportsFromSim(t *testing.T) {
	f := newSimFleet(t, 2, func(i int, h *simHost) { h.SelftestFails = i == 1 })
	opts := simOptions(t, plan.Default())
	rep := Run(context.Background(), simMachines(t, f), opts)
	if rep.OK || !rep.Hosts[0].OK || rep.Hosts[1].OK {
		t.Fatalf("want host00 pass, host01 fail")
	}
	var x bytes.Buffer
	if err := rep.WriteJUnit(&x); err != nil {
		t.Fatal(err)
	}
	if err := checkJUnit(x.Bytes()); err != nil {
		t.Fatalf("junit.xml: %v\n%s", err, x.String())
	}
	doc := rep.JUnit()
	if len(doc.Suites) != 2*len(plan.Default().Steps)+1 || doc.Suites[len(doc.Suites)-1].Name != "cross-host" {
		t.Errorf("%d suites, want one per host and step and the cross-host one", len(doc.Suites))
	}
	// host01's upgrade suite: the step failed, and so did the host's
	// runtime.run check, with its criterion in the properties.
	var found bool
	for _, s := range doc.Suites {
		if s.Name != "host01.rpm-ostree-upgrade" {
			continue
		}
		found = true
		props := map[string]string{}
		for _, p := range s.Properties {
			props[p.Name] = p.Value
		}
		if props["criterion"] != "C3" || props["criterion.runtime.run"] != "C8" || props["status"] != report.StepFail {
			t.Errorf("properties %v", props)
		}
		if s.Cases[0].Name != "rpm-ostree-upgrade" || s.Cases[0].Failure == nil || !strings.Contains(s.Cases[0].Failure.Message, "runtime.run") {
			t.Errorf("step case %+v", s.Cases[0])
		}
		var rt bool
		for _, c := range s.Cases[1:] {
			if c.Name == "runtime.run" && c.Failure != nil {
				rt = true
			}
		}
		if !rt || s.Failures != 2 {
			t.Errorf("runtime.run case missing or not failed; failures=%d", s.Failures)
		}
	}
	if !found {
		t.Error("no suite host01.rpm-ostree-upgrade")
	}

	var tab bytes.Buffer
	rep.WriteTable(&tab)
	out := tab.String()
	t.Log("\n" + out)
	for _, want := range []string{"host00: PASS", "host01: FAIL", "C1", "C3", "C8", "plan default: FAIL"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+rpm-ostree-upgrade\s+fail\s+pass\s+FAIL\s+.*FAIL`).MatchString(out) {
		t.Errorf("host01's upgrade row does not show C3 and C8 failed")
	}
	if err := rep.WriteFiles(opts.ArtifactsDir); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"report.json", "junit.xml", "criteria.txt"} {
		if fi, err := os.Stat(filepath.Join(opts.ArtifactsDir, n)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// The validator itself rejects what the schema forbids.
func TestCheckJUnitRejects(t *testing.T) {
	for _, bad := range []string{
		`<testsuites skipped="1"></testsuites>`,
		`<testsuites><testsuite name="a" tests="1" failures="0" errors="0"><testcase name="x"><properties/></testcase></testsuite></testsuites>`,
		`<testsuites><testsuite name="a" tests="2" failures="0" errors="0"><testcase name="x"/></testsuite></testsuites>`,
		`<testsuites><testsuite name="a" tests="1" failures="0"><testcase name="x"/></testsuite></testsuites>`,
		`<testsuites><testsuite name="a" tests="1" failures="0" errors="0" time="1.2s"><testcase name="x"/></testsuite></testsuites>`,
		`<testsuite name="a" tests="0" failures="0" errors="0"></testsuite>`,
	} {
		if err := checkJUnit([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	ok := `<testsuites><testsuite name="a" tests="1" failures="1" errors="0" time="1.5"><properties><property name="c" value="C3"/></properties><testcase name="x" classname="y"><failure message="m">t</failure></testcase></testsuite></testsuites>`
	if err := checkJUnit([]byte(ok)); err != nil {
		t.Errorf("rejected a valid document: %v", err)
	}
}

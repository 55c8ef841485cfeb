package format

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// JUnit prints JUnit XML: one <testsuite> per run, named after the host,
// one <testcase> per check named by its id, its class naming the
// criterion. Failures and blocked checks are <failure>, errors <error>,
// skips <skipped>. The document keeps to the attributes and elements of
// Jenkins' junit-10.xsd (which GitLab reads too): no "skipped" on
// <testsuites>, no <properties> inside a <testcase>.
type JUnit struct{}

// JUnitSuites is the document root; exported so tests and the outer
// driver parse exactly what is written.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr,omitempty"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one run (or, in the outer driver, one host and step).
type JUnitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Hostname   string          `xml:"hostname,attr,omitempty"`
	ID         string          `xml:"id,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property,omitempty"`
	Cases      []JUnitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

// JUnitProperty is a name/value pair.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one check.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitMessage `xml:"failure,omitempty"`
	Error     *JUnitMessage `xml:"error,omitempty"`
	Skipped   *JUnitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitMessage is the body of failure, error and skipped.
type JUnitMessage struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func seconds(f float64) string { return fmt.Sprintf("%.3f", f) }

// Case converts one result; the outer driver reuses it.
func Case(classname string, r record.Result) JUnitCase {
	c := JUnitCase{Name: r.ID, Classname: classname, Time: seconds(r.DurationSec)}
	body := evidenceText(r.Evidence)
	switch r.Status {
	case record.StatusFail, record.StatusBlocked:
		c.Failure = &JUnitMessage{Message: r.Message, Type: string(r.Status), Text: body}
	case record.StatusError:
		c.Error = &JUnitMessage{Message: r.Message, Type: "error", Text: body}
	case record.StatusSkip:
		c.Skipped = &JUnitMessage{Message: r.Message}
	default:
		c.SystemOut = strings.TrimSpace(r.Message + "\n" + body)
	}
	return c
}

func evidenceText(ev []record.Evidence) string {
	var b strings.Builder
	for _, e := range ev {
		if e.Expected != "" {
			fmt.Fprintf(&b, "%s: expected %s, seen %s\n", e.Name, e.Expected, e.Seen)
		} else {
			fmt.Fprintf(&b, "%s: %s\n", e.Name, e.Seen)
		}
	}
	return b.String()
}

// Add appends a case and counts it.
func (s *JUnitSuite) Add(c JUnitCase) {
	s.Cases = append(s.Cases, c)
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Error != nil:
		s.Errors++
	case c.Skipped != nil:
		s.Skipped++
	}
}

// Suite converts one run.
func Suite(rec *record.Record) JUnitSuite {
	host := rec.Hostname
	if host == "" {
		host = "unknown-host"
	}
	s := JUnitSuite{
		Name:      "atomic-selftest." + host,
		Time:      seconds(rec.End.Sub(rec.Start).Seconds()),
		Timestamp: rec.Start.UTC().Format("2006-01-02T15:04:05"),
		Hostname:  host,
		ID:        rec.ID,
		Properties: []JUnitProperty{
			{Name: "boot_id", Value: rec.BootID},
			{Name: "trigger", Value: rec.Trigger},
			{Name: "tool_version", Value: rec.ToolVersion},
			{Name: "ok", Value: fmt.Sprint(rec.Summary.OK)},
		},
	}
	if d := rec.Deployment; d != nil {
		s.Properties = append(s.Properties,
			JUnitProperty{Name: "deployment.checksum", Value: d.Checksum},
			JUnitProperty{Name: "deployment.version", Value: d.Version})
	}
	if t := rec.Transition; t != nil {
		s.Properties = append(s.Properties, JUnitProperty{Name: "transition", Value: t.Kind})
	}
	// One property per group (release criteria, host health, site
	// checks): junit-10.xsd allows no properties in a testcase, and the
	// classname already names each case's criterion (atomic-selftest.SITE).
	for _, g := range rec.Summary.Groups {
		s.Properties = append(s.Properties, JUnitProperty{Name: "group." + g.Group, Value: groupVerdict(g)})
	}
	for _, r := range rec.Checks {
		if !r.Required {
			s.Properties = append(s.Properties, JUnitProperty{Name: "wanted", Value: r.ID})
		}
		s.Add(Case("atomic-selftest."+r.Criterion, r))
	}
	return s
}

// groupVerdict is "pass" or "fail" with the counts: "fail (2 of 3
// checks bad)".
func groupVerdict(g record.GroupSummary) string {
	v := "pass"
	if !g.OK {
		v = "fail"
	}
	return fmt.Sprintf("%s (%d of %d checks bad)", v, g.Bad, g.Total)
}

// WriteSuites writes a complete document with the totals filled in.
func WriteSuites(w io.Writer, doc JUnitSuites) error {
	var total float64
	doc.Tests, doc.Failures, doc.Errors = 0, 0, 0
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		var f float64
		fmt.Sscanf(s.Time, "%g", &f)
		total += f
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// Write implements Formatter.
func (JUnit) Write(w io.Writer, runs []*record.Record) error {
	doc := JUnitSuites{Name: "atomic-selftest"}
	for _, rec := range runs {
		doc.Suites = append(doc.Suites, Suite(rec))
	}
	return WriteSuites(w, doc)
}

// Package junit is the JUnit XML document as Jenkins' junit-10.xsd
// defines it (which GitLab reads too): <testsuites>, <testsuite> with
// <properties>, <testcase> with <failure>, <error>, <skipped> and
// <system-out>, written with encoding/xml. It is a model only: the outer
// driver's reports build one per host and step, and a check's
// record.Result becomes a <testcase> by FromResult.
package junit

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Suites is the document root.
type Suites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr,omitempty"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []Suite  `xml:"testsuite"`
}

// Suite is one run (or, in the outer driver, one host and step).
type Suite struct {
	Name       string     `xml:"name,attr"`
	Tests      int        `xml:"tests,attr"`
	Failures   int        `xml:"failures,attr"`
	Errors     int        `xml:"errors,attr"`
	Skipped    int        `xml:"skipped,attr"`
	Time       string     `xml:"time,attr"`
	Timestamp  string     `xml:"timestamp,attr,omitempty"`
	Hostname   string     `xml:"hostname,attr,omitempty"`
	ID         string     `xml:"id,attr,omitempty"`
	Properties []Property `xml:"properties>property,omitempty"`
	Cases      []Case     `xml:"testcase"`
	SystemOut  string     `xml:"system-out,omitempty"`
}

// Property is a name/value pair.
type Property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Case is one check.
type Case struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	Time      string   `xml:"time,attr"`
	Failure   *Message `xml:"failure,omitempty"`
	Error     *Message `xml:"error,omitempty"`
	Skipped   *Message `xml:"skipped,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

// Message is the body of failure, error and skipped.
type Message struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

func seconds(f float64) string { return fmt.Sprintf("%.3f", f) }

// FromResult is one check's result as a test case.
func FromResult(classname string, r record.Result) Case {
	c := Case{Name: r.ID, Classname: classname, Time: seconds(r.DurationSec)}
	body := evidenceText(r.Evidence)
	switch r.Status {
	case record.StatusFail, record.StatusBlocked:
		c.Failure = &Message{Message: r.Message, Type: string(r.Status), Text: body}
	case record.StatusError:
		c.Error = &Message{Message: r.Message, Type: "error", Text: body}
	case record.StatusSkip:
		c.Skipped = &Message{Message: r.Message}
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
func (s *Suite) Add(c Case) {
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

// Write writes doc with the XML header, indented.
func Write(w io.Writer, doc Suites) error {
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

package format

import (
	"fmt"
	"io"

	"github.com/atomic-selftest/atomic-selftest/internal/junit"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// JUnit prints JUnit XML: one <testsuite> per run, named after the host,
// one <testcase> per check named by its id, its class naming the
// criterion. Failures and blocked checks are <failure>, errors <error>,
// skips <skipped>. The document keeps to the attributes and elements of
// Jenkins' junit-10.xsd (which GitLab reads too): no "skipped" on
// <testsuites>, no <properties> inside a <testcase>.
type JUnit struct{}

// The JUnit document model is internal/junit's, shared with the outer
// driver's junit.xml; the names here are the ones this package's callers
// and tests have used.
type (
	JUnitSuites   = junit.Suites
	JUnitSuite    = junit.Suite
	JUnitProperty = junit.Property
	JUnitCase     = junit.Case
	JUnitMessage  = junit.Message
)

func seconds(f float64) string { return fmt.Sprintf("%.3f", f) }

// Case converts one result.
func Case(classname string, r record.Result) JUnitCase { return junit.FromResult(classname, r) }

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
	return junit.Write(w, doc)
}

// Write implements Formatter.
func (JUnit) Write(w io.Writer, runs []*record.Record) error {
	doc := JUnitSuites{Name: "atomic-selftest"}
	for _, rec := range runs {
		doc.Suites = append(doc.Suites, Suite(rec))
	}
	return WriteSuites(w, doc)
}

// Package report is what one run of the outer driver found and the files
// it is written to: report.json (the Report itself), junit.xml (one
// testsuite per host and step, internal/junit), criteria.txt (the criteria
// by step), report.html and report.md. Whether a step passed is decided
// by the driver; the renderers only show it.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/atomic-selftest/atomic-selftest/internal/junit"
	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// JUnit builds the JUnit document: one <testsuite> per host and step,
// holding a <testcase> for the step itself (its actions in system-out)
// and one per check of the host's run record of that step's boot.
func (r *Report) JUnit() junit.Suites {
	doc := junit.Suites{Name: "atomic-selftest-outer." + r.Plan}
	var total float64
	for _, h := range r.Hosts {
		for _, s := range h.Steps {
			suite := stepSuite(h.Host, h.Plan, s)
			doc.Tests += suite.Tests
			doc.Failures += suite.Failures
			doc.Errors += suite.Errors
			total += s.DurationSec
			doc.Suites = append(doc.Suites, suite)
		}
	}
	if len(r.CrossHost) > 0 {
		suite := junit.Suite{Name: "cross-host", Time: "0.000", Timestamp: r.Start.UTC().Format("2006-01-02T15:04:05")}
		for _, a := range r.CrossHost {
			suite.Add(assertionCase("atomic-selftest-outer.cross-host", a))
		}
		doc.Tests += suite.Tests
		doc.Failures += suite.Failures
		doc.Errors += suite.Errors
		doc.Suites = append(doc.Suites, suite)
	}
	doc.Time = fmt.Sprintf("%.3f", total)
	return doc
}

func stepSuite(host, plan string, s *StepReport) junit.Suite {
	suite := junit.Suite{
		Name:      host + "." + s.Name,
		Time:      fmt.Sprintf("%.3f", s.DurationSec),
		Timestamp: s.Start.UTC().Format("2006-01-02T15:04:05"),
		Hostname:  host,
		Properties: []junit.Property{
			{Name: "host", Value: host},
			{Name: "plan", Value: plan},
			{Name: "step", Value: s.Name},
			{Name: "criterion", Value: s.Criterion},
			{Name: "status", Value: s.Status},
			{Name: "boot_id", Value: s.BootID},
		},
	}
	prop := func(n, v string) {
		suite.Properties = append(suite.Properties, junit.Property{Name: n, Value: v})
	}
	if s.Before != nil {
		prop("booted_before", s.Before.Checksum+" "+s.Before.Version)
	}
	if s.After != nil {
		prop("booted_after", s.After.Checksum+" "+s.After.Version)
	}
	if e := s.Expected; e != nil {
		prop("expected_checksum", e.Checksum)
		if len(e.Packages) > 0 {
			prop("expected_packages", strings.Join(e.Packages, " "))
		}
	}
	for _, p := range s.Pending {
		prop("before_reboot", p.String())
	}
	if r := s.HostRollback; r != nil {
		prop("host_rollback_boot", r.FailedBootID)
		prop("host_rollback_from", family.Describe(r.From))
		prop("host_rollback_reason", r.Reason)
		if r.FailedRecord != nil {
			prop("host_rollback_record", r.FailedRecord.ID)
		}
		for _, rb := range r.Reboots {
			prop("host_reboot", rb.String())
		}
	}
	step := junit.Case{Name: s.Name, Classname: "atomic-selftest-outer." + host, Time: suite.Time}
	var out strings.Builder
	for _, a := range s.Actions {
		fmt.Fprintf(&out, "%-14s %-11s %6.2fs %s\n", a.Do, a.Status, a.DurationSec, a.Message)
	}
	if len(s.Tail) > 0 {
		out.WriteString("--- last lines of the console or journal ---\n" + strings.Join(s.Tail, "\n") + "\n")
	}
	msg := &junit.Message{Message: s.Message, Type: s.Status, Text: out.String()}
	switch s.Status {
	case StepPass:
		step.SystemOut = out.String()
	case StepError, StepInterrupted:
		step.Error = msg
	case StepNotApplicable:
		step.Skipped = msg
	default:
		step.Failure = msg
	}
	suite.Add(step)
	for _, a := range s.Assertions {
		suite.Add(assertionCase("atomic-selftest-outer."+host+"."+s.Name, a))
	}
	if rec := s.Record; rec != nil {
		prop("run_record", rec.ID)
		for _, c := range rec.Checks {
			prop("criterion."+c.ID, c.Criterion)
			suite.Add(junit.FromResult("atomic-selftest."+host+"."+s.Name, c))
		}
	}
	return suite
}

// assertionCase is one of the driver's assertions as a test case: a
// failure with its evidence, n/a as skipped with the reason.
func assertionCase(classname string, a Assertion) junit.Case {
	c := junit.Case{Name: a.Name, Classname: classname, Time: "0.000"}
	text := a.Message + "\n"
	if a.Expected != "" || a.Seen != "" {
		text += "expected: " + a.Expected + "\nseen: " + a.Seen + "\n"
	}
	switch a.Status {
	case AssertFail:
		c.Failure = &junit.Message{Message: a.Message, Type: a.Status, Text: text}
	case AssertNA:
		c.Skipped = &junit.Message{Message: a.Message, Type: a.Status}
	default:
		c.SystemOut = text
	}
	return c
}

// WriteJUnit writes the JUnit document.
func (r *Report) WriteJUnit(w io.Writer) error {
	return junit.Write(w, r.JUnit())
}

// Criteria lists the criterion ids in the report, C1 to C10 in order.
func (r *Report) Criteria() []string {
	seen := map[string]bool{}
	for _, h := range r.Hosts {
		for _, s := range h.Steps {
			if s.Criterion != "" {
				seen[s.Criterion] = true
			}
			if s.Record != nil {
				for _, c := range s.Record.Checks {
					if c.Criterion != "" {
						seen[c.Criterion] = true
					}
				}
			}
		}
	}
	var out []string
	for c := range seen {
		out = append(out, c)
	}
	// The release criteria in their order, then the host's other
	// categories, then whatever else a host reported, by name.
	rank := func(c string) int {
		var n int
		if _, err := fmt.Sscanf(c, "C%d", &n); err == nil && fmt.Sprintf("C%d", n) == c && n >= 1 && n <= 99 {
			return n
		}
		switch c {
		case "HOST":
			return 100
		case "SITE":
			return 101
		}
		return 1000
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := rank(out[i]), rank(out[j]); a != b {
			return a < b
		}
		return out[i] < out[j]
	})
	return out
}

// MaxColumns bounds the criteria the tables show: a host can report any
// criterion strings it likes, and each became a column for every host (a
// host reporting 2000 made a 275 MB report.html). The release criteria
// and the host's own categories come first; the rest is counted.
const MaxColumns = 16

// Columns returns the criteria the tables show, at most MaxColumns, and
// how many more there were.
func (r *Report) Columns() ([]string, int) {
	all := r.Criteria()
	if len(all) <= MaxColumns {
		return all, 0
	}
	return all[:MaxColumns], len(all) - MaxColumns
}

// Cell is what the table shows for one criterion in one step: the step's
// own verdict for the criterion it proves, else the worst status of the
// host checks of that criterion in the step's run record.
func Cell(s *StepReport, crit string) string {
	if s.Criterion == crit && s.Status != StepPass {
		return strings.ToUpper(s.Status)
	}
	if s.Criterion == crit && s.HostRollback != nil {
		// The step passed because the host rejected its deployment.
		return "rolled-back"
	}
	if s.Record == nil {
		if s.Criterion == crit {
			return "pass"
		}
		return ""
	}
	worst := ""
	rank := map[record.Status]int{record.StatusSkip: 1, record.StatusPass: 2, record.StatusBlocked: 3, record.StatusFail: 4, record.StatusError: 5}
	for _, c := range s.Record.Checks {
		if c.Criterion == crit && (worst == "" || rank[c.Status] > rank[record.Status(worst)]) {
			worst = string(c.Status)
		}
	}
	if worst == "" && s.Criterion == crit {
		worst = "pass"
	}
	if record.Status(worst).Bad() {
		worst = strings.ToUpper(worst)
	}
	return worst
}

// WriteTable prints the criteria by step, one block per host: a row per
// step, a column per criterion; failures in capitals. Everything that may
// come from a host is printed through Printable.
func (r *Report) WriteTable(w io.Writer) error {
	raw, more := r.Columns()
	crits := make([]string, len(raw))
	for i, c := range raw {
		crits[i] = record.Printable(c)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, h := range r.Hosts {
		verdict := "PASS"
		if !h.OK {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%s: %s (plan %s)\n", record.Printable(h.Host), verdict, record.Printable(h.Plan))
		fmt.Fprintf(tw, "  step\tstatus\t%s\n", strings.Join(crits, "\t"))
		if more > 0 {
			fmt.Fprintf(tw, "  … %d more criteria reported by the hosts are not shown (report.json has them)\n", more)
		}
		for _, s := range h.Steps {
			row := []string{record.Printable(s.Name), record.Printable(s.Status)}
			for _, c := range raw {
				v := record.Printable(Cell(s, c))
				if v == "" {
					v = "-"
				}
				row = append(row, v)
			}
			fmt.Fprintf(tw, "  %s\n", strings.Join(row, "\t"))
		}
		shown := map[string]bool{}
		for _, s := range h.Steps {
			switch {
			case s.Status == StepNotRun && strings.HasPrefix(s.Message, NotApplicable):
				// One line for the steps the host's tools rule out.
				if !shown[s.Message] {
					shown[s.Message] = true
					fmt.Fprintf(tw, "  %s\n", record.Printable(s.Message))
				}
			case s.Status == StepNotApplicable:
				fmt.Fprintf(tw, "  %s: %s\n", record.Printable(s.Name), record.Printable(s.Message))
			case s.Status != StepPass && s.Status != StepNotRun:
				fmt.Fprintf(tw, "  %s: %s\n", record.Printable(s.Name), record.Printable(s.Message))
			case s.HostRollback != nil:
				again := ""
				if n := len(s.HostRollback.Reboots); n > 0 {
					again = fmt.Sprintf(" after %d reboot(s) of its own", n)
				}
				fmt.Fprintf(tw, "  %s: the host rolled back by itself%s from %s: %s\n", record.Printable(s.Name), again, record.Printable(family.Describe(s.HostRollback.From)), record.Printable(s.HostRollback.Reason))
			}
		}
		for _, s := range h.Steps {
			for _, a := range s.Assertions {
				if a.Status != AssertPass || strings.HasPrefix(a.Message, "caught: ") {
					fmt.Fprintf(tw, "  %s: %s\n", record.Printable(s.Name), record.Printable(a.String()))
				}
			}
		}
	}
	for _, a := range r.CrossHost {
		fmt.Fprintf(tw, "cross-host: %s\n", record.Printable(a.String()))
	}
	verdict := "PASS"
	switch {
	case r.Interrupted:
		verdict = "INTERRUPTED"
	case !r.OK:
		verdict = "FAIL"
	}
	fmt.Fprintf(tw, "%d host(s), plan %s: %s\n", len(r.Hosts), record.Printable(r.Plan), verdict)
	return tw.Flush()
}

// WriteFiles writes report.json, junit.xml and criteria.txt into dir,
// each atomically.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	var x, t strings.Builder
	if err := r.WriteJUnit(&x); err != nil {
		return err
	}
	if err := r.WriteTable(&t); err != nil {
		return err
	}
	if err := r.writeViews(dir); err != nil {
		return err
	}
	for name, data := range map[string][]byte{"report.json": append(js, '\n'), "junit.xml": []byte(x.String()), "criteria.txt": []byte(t.String())} {
		if err := WriteFile(dir, name, data); err != nil {
			return fmt.Errorf("writing %s: %w", filepath.Join(dir, name), err)
		}
	}
	return nil
}

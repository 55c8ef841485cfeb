package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	atomicselftest "github.com/atomic-selftest/atomic-selftest"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// reportView is what report.html and report.md show, derived from a
// Report and the run records it holds; it adds no facts of its own.
type reportView struct {
	Plan       string
	Start, End time.Time
	Duration   string
	Verdict    string
	Versions   []string
	Criteria   []string
	// MoreCriteria counts the criteria left out of the tables
	// (Report.Columns).
	MoreCriteria int
	Hosts        []hostView
	// BadChecks counts the failing, erroring and blocked checks of every
	// host and step.
	BadChecks int
	// Failures are the steps that did not pass or hold a bad check, in
	// host and step order.
	Failures []failView
	// CrossHost are the assertions across hosts (machine-id.unique).
	CrossHost []Assertion
}

// failView is one step that failed or whose run record holds bad checks:
// its message, its bad checks with their evidence, and the console or
// journal tail of a host that did not come back.
type failView struct {
	Host, Href string
	*stepView
}

type hostView struct {
	Name, Anchor string
	Plan         string
	OK           bool
	Rows         []rowView
	Timeline     []barView
	Steps        []stepView
}

// rowView is one step's row of the criteria matrix.
type rowView struct {
	Step, Status, Href string
	Cells              []cellView
	// Asserts are the driver's assertions of the step, one small cell
	// each (text "name status").
	Asserts []cellView
}

// cellView is one criterion in one step: the text of the criteria table
// (cell in report.go), a colour class, and the anchor of the checks
// behind it.
type cellView struct {
	Crit, Text, Class, Href string
}

// stepView is one step's details: its outcome, what it booted, its
// actions, the checks of its run record grouped by criterion, and the
// console/journal tail of a step that failed.
type stepView struct {
	Anchor, Name, Status, Message string
	Booted, Transition            string
	Record                        string
	// BootTime is the host's own count from the kernel to the end of
	// the boot (the record's systemd timestamps), "" where not recorded.
	BootTime string
	Actions  []ActionReport
	Groups   []checkGroup
	Bad      []record.Result
	// Assertions are the driver's own (carry-over, deployment count).
	Assertions []Assertion
	// BadAssertions are those that failed, with their evidence.
	BadAssertions []Assertion
	Tail          []string
	// MoreChecks counts the checks of the run record beyond
	// maxChecksShown, which the views leave out.
	MoreChecks int
}

// maxChecksShown bounds the checks of one run record a view lists: a
// record may hold as many as a host writes.
const maxChecksShown = 500

// maxEvidenceShown bounds the evidence of one failing check in the
// failures table.
const maxEvidenceShown = 50

type checkGroup struct {
	Anchor, Crit string
	Checks       []record.Result
}

// barView is one step in a host's timeline: where its actions fall on the
// host's time axis (0 to 1000), and the self-test run inside it.
type barView struct {
	Step, Label, Href string
	Segments          []segment
	Total             string
}

type segment struct {
	X, W  float64
	Class string
	Title string
}

// timelineWidth is the width of a timeline's SVG coordinate system.
const timelineWidth = 1000

// StatusClass is the colour class report.html gives a status.
func StatusClass(s string) string {
	switch strings.ToLower(s) {
	case "pass":
		return "pass"
	case "skip":
		return "skip"
	case "fail":
		return "fail"
	case "error", StepInterrupted:
		return "error"
	case "blocked", StepNotRun, StepNotApplicable:
		return "blocked"
	}
	return "none"
}

func seconds(d float64) string {
	return (time.Duration(d * float64(time.Second))).Round(100 * time.Millisecond).String()
}

// booted names what a step ended on: version and short checksum, from the
// run record where there is one, else from the driver's status.
func booted(s *StepReport) string {
	var v, c string
	switch {
	case s.Record != nil && s.Record.Deployment != nil:
		v, c = s.Record.Deployment.Version, s.Record.Deployment.Checksum
	case s.After != nil:
		v, c = s.After.Version, s.After.Checksum
	case s.Before != nil:
		v, c = s.Before.Version, s.Before.Checksum
	}
	return strings.TrimSpace(v + " " + record.Short(c))
}

// transition is the record's own word for the change (upgrade, rollback,
// deploy, layering, ...), which is what the host saw; the step's name says
// what was asked for.
func transition(s *StepReport) string {
	if s.Record != nil && s.Record.Transition != nil && s.Record.Transition.Kind != "" {
		return s.Record.Transition.Kind
	}
	return ""
}

// actionClass colours a timeline segment by what the driver waited for.
func actionClass(a ActionReport) string {
	if a.Status != StepPass {
		return "seg-" + StatusClass(a.Status)
	}
	switch a.Do {
	case plan.ActReboot:
		return "seg-reboot"
	case plan.ActWaitUp, plan.ActWaitSelftest:
		return "seg-wait"
	}
	return "seg-cmd"
}

func newReportView(r *Report) *reportView {
	r = printableCopy(r)
	crits, more := r.Columns()
	v := &reportView{Plan: r.Plan, Start: r.Start, End: r.End, Criteria: crits, MoreCriteria: more, Verdict: "PASS", CrossHost: r.CrossHost}
	switch {
	case r.Interrupted:
		v.Verdict = "INTERRUPTED"
	case !r.OK:
		v.Verdict = "FAIL"
	}
	if !r.End.IsZero() {
		v.Duration = r.End.Sub(r.Start).Round(time.Second).String()
	}
	hostTools := map[string][]string{}
	for hi, h := range r.Hosts {
		if h == nil {
			continue
		}
		hv := hostView{Name: h.Host, Plan: h.Plan, OK: h.OK, Anchor: fmt.Sprintf("h%d", hi)}
		var t0, t1 time.Time
		for _, s := range h.Steps {
			end := s.Start.Add(time.Duration(s.DurationSec * float64(time.Second)))
			if t0.IsZero() || s.Start.Before(t0) {
				t0 = s.Start
			}
			if end.After(t1) {
				t1 = end
			}
		}
		span := t1.Sub(t0).Seconds()
		if span <= 0 {
			span = 1
		}
		x := func(t time.Time) float64 {
			f := t.Sub(t0).Seconds() / span * timelineWidth
			return min(max(f, 0), timelineWidth)
		}
		for si, s := range h.Steps {
			anchor := fmt.Sprintf("%s-s%d", hv.Anchor, si)
			sv := stepView{Anchor: anchor, Name: s.Name, Status: s.Status, Message: s.Message, Booted: booted(s),
				Transition: transition(s), Actions: s.Actions, Tail: s.Tail, Assertions: s.Assertions}
			for _, a := range s.Assertions {
				if a.Status == AssertFail {
					sv.BadAssertions = append(sv.BadAssertions, a)
				}
			}
			groups := map[string]*checkGroup{}
			if rec := s.Record; rec != nil {
				sv.Record = rec.ID
				if b := rec.Boot; b != nil && b.Finished() {
					sv.BootTime = seconds(b.BootDuration().Seconds())
				}
				if rec.ToolVersion != "" && !slices.Contains(hostTools[rec.ToolVersion], h.Host) {
					hostTools[rec.ToolVersion] = append(hostTools[rec.ToolVersion], h.Host)
				}
				for ci, c := range rec.Checks {
					if ci == maxChecksShown {
						sv.MoreChecks = len(rec.Checks) - maxChecksShown
						break
					}
					g := groups[c.Criterion]
					if g == nil {
						g = &checkGroup{Anchor: anchor + "-" + c.Criterion, Crit: c.Criterion}
						groups[c.Criterion] = g
					}
					g.Checks = append(g.Checks, c)
					if c.Status.Bad() {
						if n := len(c.Evidence); n > maxEvidenceShown {
							c.Evidence = append(c.Evidence[:maxEvidenceShown:maxEvidenceShown],
								record.Evidence{Name: "…", Seen: fmt.Sprintf("%d more evidence entries in the run record", n-maxEvidenceShown)})
						}
						sv.Bad = append(sv.Bad, c)
						v.BadChecks++
					}
				}
			}
			for _, crit := range v.Criteria {
				if g := groups[crit]; g != nil {
					sv.Groups = append(sv.Groups, *g)
				}
			}
			row := rowView{Step: s.Name, Status: s.Status, Href: "#" + anchor}
			for _, crit := range v.Criteria {
				text := Cell(s, crit)
				c := cellView{Crit: crit, Text: text, Class: StatusClass(text), Href: "#" + anchor}
				if groups[crit] != nil {
					c.Href = "#" + groups[crit].Anchor
				}
				row.Cells = append(row.Cells, c)
			}
			for _, a := range s.Assertions {
				row.Asserts = append(row.Asserts, cellView{Crit: a.Name, Text: a.Name + " " + a.Status, Class: StatusClass(a.Status), Href: "#" + anchor + "-assert"})
			}
			hv.Rows = append(hv.Rows, row)
			hv.Steps = append(hv.Steps, sv)

			bar := barView{Step: s.Name, Href: "#" + anchor, Total: seconds(s.DurationSec)}
			bar.Label = strings.TrimSpace(strings.Join([]string{s.Name, sv.Booted, sv.Transition}, "  "))
			at := s.Start
			for _, a := range s.Actions {
				end := at.Add(time.Duration(a.DurationSec * float64(time.Second)))
				bar.Segments = append(bar.Segments, segment{X: x(at), W: max(x(end)-x(at), 1), Class: actionClass(a),
					Title: fmt.Sprintf("%s %s %s", a.Do, seconds(a.DurationSec), a.Message)})
				at = end
			}
			if rec := s.Record; rec != nil && !rec.Start.IsZero() {
				// The self-test's own run, on the host's clock.
				bar.Segments = append(bar.Segments, segment{X: x(rec.Start), W: max(x(rec.End)-x(rec.Start), 2), Class: "seg-run",
					Title: fmt.Sprintf("self-test run %s: %s", rec.ID, seconds(rec.End.Sub(rec.Start).Seconds()))})
			}
			hv.Timeline = append(hv.Timeline, bar)
		}
		for i := range hv.Steps {
			if sv := &hv.Steps[i]; sv.Status != StepPass && sv.Status != StepNotRun && sv.Status != StepNotApplicable || len(sv.Bad)+len(sv.BadAssertions) > 0 {
				v.Failures = append(v.Failures, failView{Host: h.Host, Href: "#" + sv.Anchor, stepView: sv})
			}
		}
		v.Hosts = append(v.Hosts, hv)
	}
	v.Versions = append(v.Versions, "atomic-selftest-outer "+atomicselftest.Version)
	for ver, hosts := range hostTools {
		v.Versions = append(v.Versions, fmt.Sprintf("atomic-selftest %s on %s", ver, strings.Join(hosts, ", ")))
	}
	sort.Strings(v.Versions[1:])
	return v
}

// writeViews writes report.html and report.md into dir next to
// report.json, each atomically.
func (r *Report) writeViews(dir string) error {
	v := newReportView(r)
	var h, m strings.Builder
	if err := v.writeHTML(&h); err != nil {
		return fmt.Errorf("report.html: %w", err)
	}
	if err := v.writeMarkdown(&m); err != nil {
		return fmt.Errorf("report.md: %w", err)
	}
	for _, f := range []struct{ name, data string }{{"report.html", h.String()}, {"report.md", m.String()}} {
		if err := WriteFile(dir, f.name, []byte(f.data)); err != nil {
			return fmt.Errorf("writing %s: %w", filepath.Join(dir, f.name), err)
		}
	}
	return nil
}

// printableCopy returns a deep copy of r with every string a host could
// have put into it passed through record.Printable, so no control
// character (an ESC that drives the terminal a CI log is read on, a
// carriage return that rewrites a line) reaches report.html or report.md:
// html/template and the Markdown escaping make markup inert, not control
// characters. It goes through the report's JSON, so no field is missed.
func printableCopy(r *Report) *Report {
	data, err := json.Marshal(r)
	if err != nil {
		return r
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return r
	}
	data, err = json.Marshal(printableTree(tree))
	if err != nil {
		return r
	}
	var out Report
	if err := json.Unmarshal(data, &out); err != nil {
		return r
	}
	return &out
}

func printableTree(v any) any {
	switch v := v.(type) {
	case string:
		return record.Printable(v)
	case []any:
		for i := range v {
			v[i] = printableTree(v[i])
		}
	case map[string]any:
		for k, e := range v {
			v[k] = printableTree(e)
		}
	}
	return v
}

package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/template"
	"unicode/utf8"
)

// reportMD is report.md: the run in short Markdown for a CI job summary
// (GitHub's $GITHUB_STEP_SUMMARY, which takes at most 1 MiB; GitLab's
// summaries). Hosts that passed are one line of names; each failing host
// gets its criteria table and its failures, within the limits below, so a
// run of hundreds of hosts stays far under 1 MiB.
//
//go:embed templates/report.md.tmpl
var reportMD string

// Limits of report.md.
const (
	mdMaxFailedHosts = 40  // failing hosts with a table; the rest are named
	mdMaxLines       = 200 // failure lines over all hosts
	mdMaxText        = 240 // characters of one message or evidence value
	mdMaxEvidence    = 8   // evidence entries on one check's line
	// mdMaxBytes is the most report.md holds (GitHub's job summary
	// takes 1 MiB); past it the file is cut with a note.
	mdMaxBytes = 1000 << 10
)

var reportMDTemplate = template.Must(template.New("report.md").Funcs(template.FuncMap{"md": mdText}).Parse(reportMD))

// mdText makes a host-supplied string one line of inert Markdown text:
// newlines folded, long text cut, and every character Markdown (or the
// HTML GitHub allows in it) would read as markup escaped with a backslash.
func mdText(s string) string {
	// Control characters are escaped already: the view is built from
	// printableCopy of the report.
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > mdMaxText {
		s = string([]rune(s)[:mdMaxText]) + "…"
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]<>|~&", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

type mdHost struct {
	Name  string
	Plan  string
	Rows  []rowView
	Lines []string
}

type mdView struct {
	*reportView
	// Asserts counts the driver's assertions of every step by status
	// ("14 pass, 2 n/a"); NA are the reasons of the n/a ones, once each.
	Asserts    string
	NA         []string
	Passed     []string
	Failed     []mdHost
	MoreFailed []string
	Dropped    int
}

// WriteMarkdown writes report.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	return newReportView(r).writeMarkdown(w)
}

func (v *reportView) writeMarkdown(w io.Writer) error {
	m := mdView{reportView: v}
	byStatus := map[string]int{}
	for _, h := range v.Hosts {
		for _, s := range h.Steps {
			for _, a := range s.Assertions {
				byStatus[a.Status]++
				if why := a.Name + ": " + mdText(a.Message); a.Status == AssertNA && !slices.Contains(m.NA, why) && len(m.NA) < mdMaxFailedHosts {
					m.NA = append(m.NA, why)
				}
			}
		}
	}
	var counts []string
	for _, st := range []string{AssertPass, AssertFail, AssertNA} {
		if byStatus[st] > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", byStatus[st], st))
		}
	}
	m.Asserts = strings.Join(counts, ", ")
	lines := 0
	for _, h := range v.Hosts {
		if h.OK {
			m.Passed = append(m.Passed, h.Name)
			continue
		}
		if len(m.Failed) == mdMaxFailedHosts {
			m.MoreFailed = append(m.MoreFailed, h.Name)
			continue
		}
		mh := mdHost{Name: h.Name, Plan: h.Plan, Rows: h.Rows}
		add := func(format string, args ...any) {
			if lines >= mdMaxLines {
				m.Dropped++
				return
			}
			lines++
			mh.Lines = append(mh.Lines, fmt.Sprintf(format, args...))
		}
		for _, s := range h.Steps {
			if s.Status != StepPass {
				add("step %s **%s**: %s", mdText(s.Name), s.Status, mdText(s.Message))
			}
			for _, c := range s.Bad {
				// The evidence of one check is one line, cut at mdMaxEvidence
				// entries: a host may report any number of them.
				var ev strings.Builder
				shown := 0
				for _, e := range c.Evidence {
					if e.Expected == "" {
						continue
					}
					if shown == mdMaxEvidence {
						fmt.Fprintf(&ev, "; … more evidence in report.html")
						break
					}
					shown++
					fmt.Fprintf(&ev, "; %s: expected %s, seen %s", mdText(e.Name), mdText(e.Expected), mdText(e.Seen))
				}
				add("%s: check %s (%s) **%s**: %s%s", mdText(s.Name), mdText(c.ID), mdText(c.Criterion), mdText(string(c.Status)), mdText(c.Message), ev.String())
			}
			for _, a := range s.BadAssertions {
				add("%s: assertion %s **%s**: %s; expected %s, seen %s", mdText(s.Name), mdText(a.Name), a.Status, mdText(a.Message), mdText(a.Expected), mdText(a.Seen))
			}
		}
		m.Failed = append(m.Failed, mh)
	}
	var b bytes.Buffer
	if err := reportMDTemplate.Execute(&b, m); err != nil {
		return err
	}
	out := b.Bytes()
	if len(out) > mdMaxBytes {
		cut := bytes.LastIndexByte(out[:mdMaxBytes], '\n') + 1
		out = append(out[:cut:cut], fmt.Sprintf("\n… report.md cut at %d bytes of %d; report.html has the rest.\n", cut, len(out))...)
	}
	_, err := w.Write(out)
	return err
}

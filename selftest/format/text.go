package format

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Text prints an aligned table for a person at a terminal.
type Text struct {
	Color   bool
	Verbose bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
)

func (t Text) paint(color, s string) string {
	if !t.Color {
		return s
	}
	return color + s + ansiReset
}

// StatusWord is the upper-case status, coloured when asked; status and
// the outer driver's table use it too.
func (t Text) StatusWord(r record.Result) string {
	w := strings.ToUpper(string(r.Status))
	switch {
	case r.Status == record.StatusPass:
		return t.paint(ansiGreen, w)
	case r.Status == record.StatusSkip:
		return t.paint(ansiDim, w)
	case r.Status.Bad() && !r.Required:
		return t.paint(ansiYellow, w)
	}
	return t.paint(ansiRed, w)
}

// Write implements Formatter.
func (t Text) Write(w io.Writer, runs []*record.Record) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintln(w, "no runs recorded")
		return err
	}
	for i, rec := range runs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := t.writeRun(w, rec); err != nil {
			return err
		}
	}
	return nil
}

func (t Text) writeRun(w io.Writer, rec *record.Record) error {
	// Every string of the record may come from the host (or a planted
	// record): each goes through Printable.
	p := record.Printable
	fmt.Fprintf(w, "%s %s on %s, boot %s, trigger %s, %s\n", t.paint(ansiBold, "atomic-selftest"),
		p(rec.ToolVersion), p(rec.Hostname), p(record.Short(rec.BootID)), p(rec.Trigger), rec.Start.Local().Format("2006-01-02 15:04:05"))
	if rec.Sysroot != "" {
		fmt.Fprintf(w, "sysroot %s\n", p(rec.Sysroot))
	}
	if d := rec.Deployment; d != nil {
		fmt.Fprintf(w, "booted %s %s.%d", p(d.OSName), p(record.Short(d.Checksum)), d.Serial)
		if d.Version != "" {
			fmt.Fprintf(w, " (%s)", p(d.Version))
		}
		if d.Refspec != "" {
			fmt.Fprintf(w, " from %s", p(d.Refspec))
		}
		fmt.Fprintln(w)
	}
	if tr := rec.Transition; tr != nil {
		fmt.Fprintf(w, "transition: %s", p(tr.Kind))
		if tr.Reason != "" {
			fmt.Fprintf(w, " (%s)", p(tr.Reason))
		}
		fmt.Fprintln(w)
	}
	if b := rec.Boot; b != nil && b.Finished() {
		fmt.Fprintf(w, "boot took %.1f s (kernel to %s)\n", b.BootDuration().Seconds(), p(b.SystemState))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tCRIT\tTIME\tMESSAGE")
	for _, r := range rec.Checks {
		kind := ""
		if !r.Required {
			kind = " (wanted)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2fs\t%s\n", t.StatusWord(r), p(r.ID)+kind, p(r.Criterion), r.DurationSec, p(firstLine(r.Message)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rec.Checks {
		if len(r.Evidence) == 0 || (!r.Status.Bad() && !t.Verbose) {
			continue
		}
		fmt.Fprintf(w, "\n%s %s:\n", t.StatusWord(r), p(r.ID))
		if strings.Contains(r.Message, "\n") {
			for _, l := range strings.Split(r.Message, "\n") {
				fmt.Fprintf(w, "    %s\n", p(l))
			}
		}
		for _, e := range r.Evidence {
			if e.Expected != "" {
				fmt.Fprintf(w, "    %s: expected %s, seen %s\n", p(e.Name), p(e.Expected), p(e.Seen))
			} else {
				fmt.Fprintf(w, "    %s: %s\n", p(e.Name), p(e.Seen))
			}
		}
	}
	s := rec.Summary
	verdict := t.paint(ansiGreen+ansiBold, "PASS")
	if !s.OK {
		verdict = t.paint(ansiRed+ansiBold, "FAIL")
	}
	fmt.Fprintf(w, "\n%s: %d checks, %d passed, %d failed, %d errors, %d blocked, %d skipped in %.1f s\n",
		verdict, s.Total, s.Passed, s.Failed, s.Errors, s.Blocked, s.Skipped, rec.End.Sub(rec.Start).Seconds())
	if len(s.Groups) > 0 {
		fmt.Fprintf(w, "summary: %s\n", s.GroupLine())
	}
	if len(s.WantedBad) > 0 {
		fmt.Fprintf(w, "warnings (wanted checks): %s\n", p(strings.Join(s.WantedBad, ", ")))
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

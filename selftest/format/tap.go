package format

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// TAP prints TAP version 14 (testanything.org/tap-version-14-specification).
// One run is a flat plan; several runs are one test each with the checks
// as a subtest. Diagnostics are YAML blocks whose scalars are written as
// JSON strings, which YAML reads as double-quoted scalars.
type TAP struct{}

// Write implements Formatter.
func (TAP) Write(w io.Writer, runs []*record.Record) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "TAP version 14")
	switch len(runs) {
	case 0:
		fmt.Fprintln(bw, "1..0 # SKIP no runs")
	case 1:
		writeTAPRun(bw, "", runs[0])
	default:
		fmt.Fprintf(bw, "1..%d\n", len(runs))
		for i, rec := range runs {
			fmt.Fprintf(bw, "# Subtest: %s\n", oneLine(rec.ID))
			writeTAPRun(bw, "    ", rec)
			ok := "ok"
			if !rec.Summary.OK {
				ok = "not ok"
			}
			fmt.Fprintf(bw, "%s %d - %s boot %s\n", ok, i+1, oneLine(rec.ID), oneLine(rec.BootID))
		}
	}
	return bw.Flush()
}

// q writes s as a YAML double-quoted scalar: JSON's escapes (which cover
// C0 controls) plus \u escapes for what JSON leaves raw (DEL, the C1
// controls, format characters), so the value reads back exactly and no
// control character reaches the terminal.
func q(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	out := strings.TrimSuffix(b.String(), "\n")
	if strings.IndexFunc(out, func(r rune) bool { return !strconv.IsPrint(r) }) < 0 {
		return out
	}
	b.Reset()
	for _, r := range out {
		switch {
		case strconv.IsPrint(r):
			b.WriteRune(r)
		case r > 0xffff:
			fmt.Fprintf(&b, "\\U%08x", r)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

func writeTAPRun(w io.Writer, ind string, rec *record.Record) {
	fmt.Fprintf(w, "%s1..%d\n", ind, len(rec.Checks))
	for i, r := range rec.Checks {
		ok := "ok"
		// A wanted check's failure is reported as TODO: visible, but it
		// does not fail the plan, matching the run's exit status.
		directive := ""
		switch {
		case r.Status == record.StatusSkip:
			directive = " # SKIP " + oneLine(r.Message)
		case r.Status.Bad() && !r.Required:
			ok = "not ok"
			directive = " # TODO wanted check: " + oneLine(r.Message)
		case r.Status.Bad():
			ok = "not ok"
		}
		fmt.Fprintf(w, "%s%s %d - %s%s\n", ind, ok, i+1, oneLine(r.ID), directive)
		if r.Status.Bad() {
			fmt.Fprintf(w, "%s  ---\n", ind)
			fmt.Fprintf(w, "%s  status: %s\n", ind, q(string(r.Status)))
			fmt.Fprintf(w, "%s  criterion: %s\n", ind, q(r.Criterion))
			fmt.Fprintf(w, "%s  message: %s\n", ind, q(r.Message))
			if len(r.Evidence) > 0 {
				fmt.Fprintf(w, "%s  evidence:\n", ind)
				for _, e := range r.Evidence {
					fmt.Fprintf(w, "%s    - name: %s\n", ind, q(e.Name))
					if e.Expected != "" {
						fmt.Fprintf(w, "%s      expected: %s\n", ind, q(e.Expected))
					}
					fmt.Fprintf(w, "%s      seen: %s\n", ind, q(e.Seen))
				}
			}
			fmt.Fprintf(w, "%s  ...\n", ind)
		}
	}
}

// oneLine makes s part of a test line: newlines become spaces, other
// control characters are escaped (Printable).
func oneLine(s string) string {
	s = record.Printable(strings.ReplaceAll(s, "\n", " "))
	// '#' would start a new directive in the description.
	return strings.ReplaceAll(s, "#", "\\#")
}

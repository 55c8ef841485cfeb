package format

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// TAP prints TAP version 13 (testanything.org/tap-version-13-specification),
// the newest version that every common reader knows: Perl's Test::Harness
// (prove) refuses a stream that declares 14, and so do older readers such
// as Jenkins' tap4j. The output needs nothing TAP 14 added.
//
// Every check of every run is one test point of one flat plan. Several
// runs are not TAP 14 subtests (which a version 13 reader cannot count)
// but consecutive test points named RUN/CHECK, each run opened by a
// comment with its verdict, so every reader counts every check and the
// stream passes exactly when every run passed. Diagnostics are YAML blocks
// of double-quoted scalars (yamlQuote) that TAP 13's YAMLish readers and
// full YAML parsers read back alike.
type TAP struct{}

// Write implements Formatter.
func (TAP) Write(w io.Writer, runs []*record.Record) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "TAP version 13")
	total := 0
	for _, rec := range runs {
		total += len(rec.Checks)
	}
	switch {
	case len(runs) == 0:
		fmt.Fprintln(bw, "1..0 # SKIP no runs")
	case total == 0:
		fmt.Fprintln(bw, "1..0 # SKIP no checks ran")
	default:
		fmt.Fprintf(bw, "1..%d\n", total)
	}
	n := 0
	for _, rec := range runs {
		verdict := "passed"
		if !rec.Summary.OK {
			verdict = "failed"
		}
		fmt.Fprintf(bw, "# run %s on %s, boot %s: %s\n", oneLine(rec.ID), oneLine(rec.Hostname), oneLine(rec.BootID), verdict)
		// A comment per group: whether the release criteria, the host's
		// health or the site's checks failed.
		for _, g := range rec.Summary.Groups {
			fmt.Fprintf(bw, "# %s: %s\n", record.GroupTitle(g.Group), groupVerdict(g))
		}
		prefix := ""
		if len(runs) > 1 {
			prefix = oneLine(rec.ID) + "/"
		}
		for _, r := range rec.Checks {
			n++
			writeTAPCheck(bw, n, prefix, r)
		}
	}
	return bw.Flush()
}

func writeTAPCheck(w io.Writer, n int, prefix string, r record.Result) {
	ok := "ok"
	// A wanted check's failure is reported as TODO: visible, but it does
	// not fail the plan, matching the run's exit status.
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
	fmt.Fprintf(w, "%s %d - %s%s%s\n", ok, n, prefix, oneLine(r.ID), directive)
	if !r.Status.Bad() {
		return
	}
	fmt.Fprintln(w, "  ---")
	fmt.Fprintf(w, "  status: %s\n", yamlQuote(string(r.Status)))
	fmt.Fprintf(w, "  criterion: %s\n", yamlQuote(r.Criterion))
	fmt.Fprintf(w, "  message: %s\n", yamlQuote(r.Message))
	if len(r.Evidence) > 0 {
		fmt.Fprintln(w, "  evidence:")
		for _, e := range r.Evidence {
			fmt.Fprintf(w, "    - name: %s\n", yamlQuote(e.Name))
			if e.Expected != "" {
				fmt.Fprintf(w, "      expected: %s\n", yamlQuote(e.Expected))
			}
			fmt.Fprintf(w, "      seen: %s\n", yamlQuote(e.Seen))
		}
	}
	fmt.Fprintln(w, "  ...")
}

// yamlQuote writes s as a YAML double-quoted scalar on one line. Only the
// escapes TAP 13's YAMLish (and so Perl's TAP::Parser::YAMLish::Reader)
// shares with YAML 1.2 are used for what such a reader can meet: \" \\ \n
// \t \r and \xHH for every other control character up to U+00FF (C0, DEL,
// C1). Format characters above that (U+202E) are \uHHHH, which full YAML
// parsers read back and YAMLish shows as written. No control character
// reaches the terminal, and bytes that are not UTF-8 become U+FFFD.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case strconv.IsPrint(r):
			// utf8.RuneError from an invalid byte is printable: U+FFFD.
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// oneLine makes s part of a test line: newlines become spaces, other
// control characters are escaped (record.Printable), and '#' is written
// \x23 in Printable's style. TAP 13 has no escape for '#' (a description ends at
// the first one, and a following SKIP or TODO would become a directive);
// TAP 14's "\#" is read back differently by readers that do and do not
// know it, \x23 by none.
func oneLine(s string) string {
	s = record.Printable(strings.ReplaceAll(s, "\n", " "))
	return strings.ReplaceAll(s, "#", `\x23`)
}

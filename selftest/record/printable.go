package record

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Printable returns s with every character a terminal could act on
// escaped the way strconv.Quote writes it: control characters (ESC as
// \x1b, a carriage return as \r, a newline as \n, a tab as \t, DEL, the
// C1 controls such as U+009B CSI), format characters such as the
// right-to-left override (\u202e) and bytes that are not UTF-8 (\xff).
// Printable UTF-8 is kept, and so is a backslash: the result is for a
// person to read, not to be parsed back. Every human output of the host
// binary passes host-supplied strings (messages, host names, versions,
// unit names, paths) through it, so a hostile string cannot move the
// cursor, rewrite the table or retitle the terminal.
func Printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			if b.Len() == 0 {
				b.WriteString(s[:i])
			}
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case !strconv.IsPrint(r):
			if b.Len() == 0 {
				b.WriteString(s[:i])
			}
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		case b.Len() > 0:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	if b.Len() == 0 {
		return s
	}
	return b.String()
}

package record

import "testing"

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain ünïcode ✓", "plain ünïcode ✓"},
		{"\x1b[2Jcleared", `\x1b[2Jcleared`},
		{"ok\rFAIL", `ok\rFAIL`},
		{"a\tb\nc", `a\tb\nc`},
		{"del\x7f c1\u009b[31m", `del\x7f c1\u009b[31m`},
		{"rlo\u202etxt.exe", `rlo\u202etxt.exe`},
		{"bad\xffutf8", `bad\xffutf8`},
		{`back\slash`, `back\slash`},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

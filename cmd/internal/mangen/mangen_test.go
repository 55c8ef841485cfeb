package mangen

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func testPage() *Page {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.String("format", "text", "output format: text, json or tap")
	fs.StringArray("config-dir", nil, "read configuration from `DIR`")
	fs.BoolP("verbose", "v", false, "show the evidence")
	fs.String("secret", "", "hidden")
	_ = fs.MarkHidden("secret")
	return &Page{
		Name: "tool", Section: 8, Summary: "a tool", Description: ".starts with a dot\n\nsecond `para-graph`",
		Commands:   []Command{{Name: "run", Usage: "run [--format F]", Short: "run it", Flags: fs}},
		ExitStatus: "EXIT STATUS\n  0  fine\n  1  not fine\n",
		Files:      [][2]string{{"/var/lib/tool", "results"}},
	}
}

// Every visible flag is in the page and in both completions, hidden ones
// nowhere; the page has EXIT STATUS and FILES; roff's specials are escaped.
func TestRender(t *testing.T) {
	p := testPage()
	if got := strings.Join(p.FlagNames(), " "); got != "--config-dir --format --verbose -v" {
		t.Fatalf("flag names %q", got)
	}
	for path, text := range p.Outputs() {
		for _, f := range p.FlagNames() {
			if !mentions(path, text, f) {
				t.Errorf("%s does not mention %s:\n%s", path, f, text)
			}
		}
		if strings.Contains(text, "secret") {
			t.Errorf("%s shows the hidden flag", path)
		}
	}
	man := p.Man()
	for _, want := range []string{
		`.SH "EXIT STATUS"` + "\n.TP\n.B 0\nfine\n",
		".SH FILES\n.TP\n.I /var/lib/tool\nresults\n",
		`\fB\-\-config\-dir\fR \fIDIR\fR` + "\nread configuration from DIR; may be repeated\n",
		"\\&.starts with a dot\n.PP\nsecond \\fBpara\\-graph\\fR\n",
		"(default text)",
	} {
		if !strings.Contains(man, want) {
			t.Errorf("the page lacks %q:\n%s", want, man)
		}
	}
	if !strings.Contains(p.Bash(), "case $prev in --format) COMPREPLY=($(compgen -W 'text json tap'") {
		t.Errorf("bash does not complete --format's values:\n%s", p.Bash())
	}
	if !strings.Contains(p.Zsh(), `'*--config-dir=[read configuration from DIR]:dir:_files'`) {
		t.Errorf("zsh does not complete --config-dir as repeatable files:\n%s", p.Zsh())
	}
}

// A page that lost a flag is caught by mentions.
func TestMentionsCatchesAMissingFlag(t *testing.T) {
	p := testPage()
	for path, text := range p.Outputs() {
		cut := strings.ReplaceAll(strings.ReplaceAll(text, "config-dir", "x"), `config\-dir`, "x")
		if mentions(path, cut, "--config-dir") {
			t.Errorf("%s without --config-dir still mentions it", path)
		}
		if mentions(path, text, "--config") {
			t.Errorf("%s: --config matched inside --config-dir", path)
		}
	}
}

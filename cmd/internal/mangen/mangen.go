// Package mangen renders a CLI's manual page (roff, man(7) macros) and its
// bash and zsh completion scripts from the CLI's own pflag flag sets, so
// that the pages and completions shipped in the RPM name exactly the flags
// the commands parse. The CLIs' tests render them and compare with the
// copies committed under dist/ (`-update` rewrites those).
package mangen

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// Page describes one program.
type Page struct {
	// Name is the program, e.g. "atomic-selftest".
	Name string
	// Section is the manual section: 8 for the host's administration
	// command, 1 for a user command.
	Section int
	// Summary is the one line of the NAME section.
	Summary string
	// Description is the DESCRIPTION section; paragraphs are separated by
	// blank lines.
	Description string
	// Commands are the subcommands, in the order the page lists them.
	Commands []Command
	// ExitStatus is the CLI's own EXIT STATUS help text: a heading line,
	// then one "  CODE  meaning" line per code.
	ExitStatus string
	// Files are the FILES section: path, then what it is.
	Files [][2]string
	// SeeAlso are references such as "systemctl(1)".
	SeeAlso []string
}

// Command is one subcommand with the flag set it parses.
type Command struct {
	Name  string
	Usage string // the synopsis after the program name
	Short string // one line: what it does
	Flags *pflag.FlagSet
}

// flags lists the visible flags of c in definition order.
func (c Command) flags() []*pflag.Flag {
	var out []*pflag.Flag
	if c.Flags == nil {
		return nil
	}
	sorted := c.Flags.SortFlags
	c.Flags.SortFlags = false
	c.Flags.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			out = append(out, f)
		}
	})
	c.Flags.SortFlags = sorted
	return out
}

// FlagNames lists every visible flag of every command as "--name" (and
// "-s" for a shorthand): what a page and its completions must mention.
func (p *Page) FlagNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range p.Commands {
		for _, f := range c.flags() {
			for _, n := range []string{"--" + f.Name, shorthand(f)} {
				if n != "" && !seen[n] {
					seen[n] = true
					out = append(out, n)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func shorthand(f *pflag.Flag) string {
	if f.Shorthand == "" {
		return ""
	}
	return "-" + f.Shorthand
}

// takesValue reports whether the flag needs an argument (booleans do not).
func takesValue(f *pflag.Flag) bool { return f.NoOptDefVal == "" }

// repeatable reports whether the flag may be given more than once.
func repeatable(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Array") || strings.HasSuffix(t, "Slice")
}

// pathFlag matches the names of flags whose value is a file or directory,
// for which the completions offer file names.
var pathFlag = regexp.MustCompile(`(^|-)(dir|file|sysroot|inventory|plan|known-hosts|identity|image|binary|artifacts)$`)

// valueName is the flag's argument as the synopsis shows it: a
// `BACKQUOTED` word of its usage, else one derived from its type.
func valueName(f *pflag.Flag) string {
	name, _ := pflag.UnquoteUsage(f)
	switch name {
	case "string", "stringArray", "stringSlice", "strings":
		return strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
	case "duration":
		return "DURATION"
	case "int", "uint", "int64":
		return "N"
	}
	return strings.ToUpper(name)
}

var (
	parenthetical = regexp.MustCompile(`\s*\([^)]*\)`)
	choiceWord    = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// choices are the values a flag's help lists after its last colon
// ("output format: text, json, junit or tap"), or nil.
func choices(f *pflag.Flag) []string {
	u := usageText(f)
	i := strings.LastIndex(u, ": ")
	if !takesValue(f) || i < 0 {
		return nil
	}
	list := parenthetical.ReplaceAllString(u[i+2:], "")
	var out []string
	for _, part := range strings.Split(strings.ReplaceAll(list, " or ", ", "), ",") {
		part = strings.TrimSpace(part)
		if part == "" { // "tcg, kvm, or auto"
			continue
		}
		if !choiceWord.MatchString(part) {
			return nil
		}
		out = append(out, part)
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// usageText is the flag's help without the backquotes UnquoteUsage reads.
func usageText(f *pflag.Flag) string {
	_, u := pflag.UnquoteUsage(f)
	return u
}

// defaultText is the flag's default as help shows it, or "" when the
// default says nothing (empty, false, zero).
func defaultText(f *pflag.Flag) string {
	switch f.DefValue {
	case "", "false", "[]", "0", "0s":
		return ""
	}
	return f.DefValue
}

// roffEscape makes text safe in a roff line: backslashes doubled, hyphens
// as \-, and a leading dot or quote guarded.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffText escapes a paragraph and turns `code` into bold.
func roffText(s string) string {
	var b strings.Builder
	for i, part := range strings.Split(s, "`") {
		if i%2 == 1 {
			b.WriteString(`\fB` + strings.ReplaceAll(strings.ReplaceAll(part, `\`, `\e`), "-", `\-`) + `\fR`)
		} else {
			b.WriteString(strings.ReplaceAll(strings.ReplaceAll(part, `\`, `\e`), "-", `\-`))
		}
	}
	out := b.String()
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			l = `\&` + l
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

var exitLine = regexp.MustCompile(`^\s+(\d+)\s+(.*)$`)

// Man renders the manual page.
func (p *Page) Man() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w(".\\\" Generated from the CLI's flag definitions by cmd/internal/mangen; do not edit.\n")
	w(".TH %s %d \"\" \"%s\" \"%s\"\n", strings.ToUpper(roffEscape(p.Name)), p.Section, roffEscape(p.Name), map[int]string{1: "User Commands", 8: "System Administration"}[p.Section])
	w(".SH NAME\n%s \\- %s\n", roffEscape(p.Name), roffText(p.Summary))
	w(".SH SYNOPSIS\n")
	for _, c := range p.Commands {
		w(".B %s\n%s\n.br\n", roffEscape(p.Name), roffEscape(c.Usage))
	}
	w(".SH DESCRIPTION\n")
	for i, para := range strings.Split(strings.TrimSpace(p.Description), "\n\n") {
		if i > 0 {
			w(".PP\n")
		}
		w("%s\n", roffText(para))
	}
	w(".SH COMMANDS\n")
	for _, c := range p.Commands {
		w(".SS %s\n%s\n", roffEscape(c.Name), roffText(c.Short))
		for _, f := range c.flags() {
			w(".TP\n")
			names := `\fB\-\-` + roffEscape(f.Name) + `\fR`
			if s := shorthand(f); s != "" {
				names = `\fB\-` + roffEscape(f.Shorthand) + `\fR, ` + names
			}
			if takesValue(f) {
				names += ` \fI` + roffEscape(valueName(f)) + `\fR`
			}
			w("%s\n", names)
			text := usageText(f)
			if d := defaultText(f); d != "" {
				text += " (default " + d + ")"
			}
			if repeatable(f) && !strings.Contains(text, "repeatable") {
				text += "; may be repeated"
			}
			w("%s\n", roffText(text))
		}
	}
	w(".SH \"EXIT STATUS\"\n")
	for _, l := range strings.Split(p.ExitStatus, "\n") {
		if m := exitLine.FindStringSubmatch(l); m != nil {
			w(".TP\n.B %s\n%s\n", m[1], roffText(m[2]))
		}
	}
	if len(p.Files) > 0 {
		w(".SH FILES\n")
		for _, f := range p.Files {
			w(".TP\n.I %s\n%s\n", roffEscape(f[0]), roffText(f[1]))
		}
	}
	if len(p.SeeAlso) > 0 {
		w(".SH \"SEE ALSO\"\n")
		var refs []string
		for _, r := range p.SeeAlso {
			if i := strings.Index(r, "("); i > 0 {
				refs = append(refs, `\fB`+roffEscape(r[:i])+`\fR`+r[i:])
			} else {
				refs = append(refs, roffEscape(r))
			}
		}
		w("%s\n", strings.Join(refs, ",\n"))
	}
	return b.String()
}

// funcName is the shell function a completion defines for the program.
func (p *Page) funcName() string { return "_" + strings.ReplaceAll(p.Name, "-", "_") }

func (p *Page) commandNames() []string {
	var out []string
	for _, c := range p.Commands {
		out = append(out, c.Name)
	}
	return out
}

// Bash renders the bash completion script.
func (p *Page) Bash() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# bash completion for %s\n", p.Name)
	w("# Generated from the CLI's flag definitions by cmd/internal/mangen; do not edit.\n")
	w("%s() {\n", p.funcName())
	w("    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n")
	w("    local flags= paths= values=\n")
	w("    if [ \"$COMP_CWORD\" -eq 1 ]; then\n")
	w("        COMPREPLY=($(compgen -W '%s --help' -- \"$cur\"))\n", strings.Join(p.commandNames(), " "))
	w("        return\n    fi\n")
	w("    case ${COMP_WORDS[1]} in\n")
	for _, c := range p.Commands {
		var flags, paths, values []string
		for _, f := range c.flags() {
			names := []string{"--" + f.Name}
			if s := shorthand(f); s != "" {
				names = append(names, s)
			}
			flags = append(flags, names...)
			if takesValue(f) {
				values = append(values, names...)
				if pathFlag.MatchString(f.Name) {
					paths = append(paths, names...)
				}
			}
		}
		w("    %s)\n", c.Name)
		for _, f := range c.flags() {
			if ch := choices(f); ch != nil {
				pattern := "--" + f.Name
				if s := shorthand(f); s != "" {
					pattern += "|" + s
				}
				w("        case $prev in %s) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;; esac\n", pattern, strings.Join(ch, " "))
			}
		}
		w("        flags='%s --help'\n", strings.Join(flags, " "))
		w("        values=' %s '\n", strings.Join(values, " "))
		w("        paths=' %s '\n", strings.Join(paths, " "))
		w("        ;;\n")
	}
	w("    esac\n")
	w("    if [[ $paths == *\" $prev \"* ]]; then\n")
	w("        compopt -o filenames 2>/dev/null\n")
	w("        COMPREPLY=($(compgen -f -- \"$cur\"))\n")
	w("    elif [[ $values == *\" $prev \"* ]]; then\n")
	w("        COMPREPLY=()\n")
	w("    else\n")
	w("        COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n")
	w("    fi\n")
	w("}\n")
	w("complete -F %s %s\n", p.funcName(), p.Name)
	return b.String()
}

// zshQuote quotes s for a single-quoted zsh word inside an _arguments
// spec's [description]: quotes closed and reopened, brackets and colons
// escaped.
func zshQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "[", `\[`)
	s = strings.ReplaceAll(s, "]", `\]`)
	s = strings.ReplaceAll(s, ":", `\:`)
	return strings.ReplaceAll(s, "'", `'\''`)
}

// Zsh renders the zsh completion function (for site-functions).
func (p *Page) Zsh() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("#compdef %s\n", p.Name)
	w("# Generated from the CLI's flag definitions by cmd/internal/mangen; do not edit.\n\n")
	w("%s() {\n", p.funcName())
	w("    local -a commands\n")
	w("    commands=(\n")
	for _, c := range p.Commands {
		w("        '%s:%s'\n", c.Name, strings.ReplaceAll(strings.ReplaceAll(c.Short, ":", `\:`), "'", `'\''`))
	}
	w("    )\n")
	w("    if (( CURRENT == 2 )); then\n")
	w("        _describe -t commands command commands\n")
	w("        return\n    fi\n")
	w("    shift words\n    (( CURRENT-- ))\n")
	w("    case $words[1] in\n")
	for _, c := range p.Commands {
		w("    %s)\n        _arguments -s \\\n", c.Name)
		for _, f := range c.flags() {
			desc := "[" + zshQuote(usageText(f)) + "]"
			arg := ""
			if takesValue(f) {
				action := " "
				if pathFlag.MatchString(f.Name) {
					action = "_files"
				}
				if ch := choices(f); ch != nil {
					action = "(" + strings.Join(ch, " ") + ")"
				}
				arg = ":" + strings.ToLower(valueName(f)) + ":" + action
			}
			rep := ""
			if repeatable(f) {
				rep = "*"
			}
			eq := ""
			if takesValue(f) {
				eq = "="
			}
			if s := f.Shorthand; s != "" {
				excl := ""
				if !repeatable(f) {
					excl = "(-" + s + " --" + f.Name + ")"
				}
				w("            '%s%s-%s%s' \\\n", excl, rep, s, desc+arg)
				w("            '%s%s--%s%s%s' \\\n", excl, rep, f.Name, eq, desc+arg)
				continue
			}
			w("            '%s--%s%s%s' \\\n", rep, f.Name, eq, desc+arg)
		}
		w("            '(- *)--help[show the options]'\n")
		w("        ;;\n")
	}
	w("    esac\n")
	w("}\n\n")
	w("%s \"$@\"\n", p.funcName())
	return b.String()
}

// Outputs are the files rendered for p, by their path under dist/.
func (p *Page) Outputs() map[string]string {
	return map[string]string{
		fmt.Sprintf("man/%s.%d", p.Name, p.Section): p.Man(),
		"completion/bash/" + p.Name:                 p.Bash(),
		"completion/zsh/_" + p.Name:                 p.Zsh(),
	}
}

package storageconf

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// Unit is what storage.config needs of the runtime's service unit: the
// command line and where its environment comes from.
type Unit struct {
	// Path is the unit file; DropIns the *.conf files applied over it.
	Path    string
	DropIns []string
	// ExecStart is the last ExecStart= value (after any reset).
	ExecStart string
	// EnvironmentFiles are the EnvironmentFile= paths in order; a
	// leading "-" (missing is fine) is removed.
	EnvironmentFiles []string
	// Environment holds Environment= assignments.
	Environment map[string]string
}

// LoadUnit reads unit name as systemd would find it in files. It returns
// nil, nil when no such unit file exists.
func LoadUnit(files rootfs.FS, name string) (*Unit, error) {
	u := &Unit{Environment: map[string]string{}}
	for _, d := range dockerprobe.UnitDirs {
		p := filepath.Join(d, name)
		if files.Exists(p) {
			u.Path = p
			break
		}
	}
	if u.Path == "" {
		return nil, nil
	}
	// Drop-ins from every directory, ordered by file name; a name in a
	// higher-priority directory hides the same name below it.
	seen := map[string]string{}
	for i := len(dockerprobe.UnitDirs) - 1; i >= 0; i-- {
		dir := filepath.Join(dockerprobe.UnitDirs[i], name+".d")
		entries, err := files.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".conf") {
				seen[e.Name()] = filepath.Join(dir, e.Name())
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u.DropIns = append(u.DropIns, seen[n])
	}
	for _, f := range append([]string{u.Path}, u.DropIns...) {
		data, err := files.ReadFile(f, rootfs.UnitFile)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		if err := u.parse(string(data)); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return u, nil
}

// parse applies one unit file's [Service] settings (systemd.syntax(7):
// "#" and ";" comments, "\" continues a line, an empty value resets a
// list setting).
func (u *Unit) parse(data string) error {
	section := ""
	lines := strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimSpace(lines[i])
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + " " + strings.TrimSpace(lines[i])
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return fmt.Errorf("line %d: bad section header %q", lineNo, truncate(line))
			}
			section = line[1 : len(line)-1]
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("line %d: %q is not a Key=value setting", lineNo, truncate(line))
		}
		if section != "Service" {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "ExecStart":
			u.ExecStart = val
		case "EnvironmentFile":
			if val == "" {
				u.EnvironmentFiles = nil
				continue
			}
			u.EnvironmentFiles = append(u.EnvironmentFiles, strings.TrimPrefix(val, "-"))
		case "Environment":
			if val == "" {
				u.Environment = map[string]string{}
				continue
			}
			words, err := splitCommand(val, nil)
			if err != nil {
				return fmt.Errorf("line %d: Environment=: %w", lineNo, err)
			}
			for _, w := range words {
				if k, v, ok := strings.Cut(w, "="); ok {
					u.Environment[k] = v
				}
			}
		}
	}
	return nil
}

// Command returns ExecStart split into words with environment variables
// expanded as systemd does (systemd.service(5), "Command lines": "$FOO"
// as a separate word is split at whitespace, "${FOO}" is one word, and an
// unset variable is empty). The special prefixes @-:+! are removed.
func (u *Unit) Command(env map[string]string) ([]string, error) {
	v := strings.TrimLeft(u.ExecStart, "@-:+!")
	return splitCommand(v, env)
}

// splitCommand splits a systemd command line into words, honouring double
// and single quotes and backslash escapes, expanding variables from env
// when env is non-nil.
func splitCommand(s string, env map[string]string) ([]string, error) {
	var words []string
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return words, nil
		}
		// A bare $NAME word expands to several words.
		if env != nil && s[i] == '$' && i+1 < len(s) && s[i+1] != '{' {
			j := i + 1
			for j < len(s) && (s[j] == '_' || isAlnum(s[j])) {
				j++
			}
			if j > i+1 && (j == len(s) || s[j] == ' ' || s[j] == '\t') {
				words = append(words, strings.Fields(env[s[i+1:j]])...)
				i = j
				continue
			}
		}
		var b strings.Builder
		for i < len(s) && s[i] != ' ' && s[i] != '\t' {
			c := s[i]
			switch {
			case c == '"' || c == '\'':
				j := i + 1
				for j < len(s) && s[j] != c {
					if s[j] == '\\' && c == '"' && j+1 < len(s) {
						j++
					}
					b.WriteByte(s[j])
					j++
				}
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated quote in %q", truncate(s))
				}
				i = j + 1
			case c == '\\' && i+1 < len(s):
				b.WriteByte(s[i+1])
				i += 2
			case c == '$' && env != nil && i+1 < len(s) && s[i+1] == '{':
				j := strings.IndexByte(s[i:], '}')
				if j < 0 {
					return nil, fmt.Errorf("unterminated ${ in %q", truncate(s))
				}
				b.WriteString(env[s[i+2:i+j]])
				i += j + 1
			default:
				b.WriteByte(c)
				i++
			}
		}
		words = append(words, b.String())
	}
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

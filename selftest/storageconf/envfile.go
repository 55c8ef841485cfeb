package storageconf

import (
	"fmt"
	"strings"
)

// ParseEnvFile reads shell-style variable assignments, the format of
// /etc/sysconfig/docker-storage-setup (which container-storage-setup
// `source`s), of /etc/sysconfig/docker-storage (which it writes and
// docker.service reads with EnvironmentFile=) and of systemd environment
// files in general (systemd.exec(5), "EnvironmentFile="):
//
//	# comment            ; comment (systemd)
//	KEY=value            export KEY=value
//	KEY="double quoted \" with escapes"
//	KEY='single quoted'
//	KEY=value\
//	    continued
//
// Later assignments win. A line that is not an assignment is an error
// naming its line number; expansions ($X) are kept literally.
func ParseEnvFile(data string) (map[string]string, error) { return parseEnv(data, true) }

// ParseUnitEnvFile reads a file as systemd's EnvironmentFile= does: like
// ParseEnvFile, but a line that is not an assignment is ignored, as
// systemd ignores it ("Ignoring invalid environment assignment"). Fedora's
// /etc/sysconfig/docker contains shell code (an if block) and is read
// both by the shell and by systemd.
func ParseUnitEnvFile(data string) map[string]string {
	vars, _ := parseEnv(data, false)
	return vars
}

func parseEnv(data string, strict bool) (map[string]string, error) {
	vars := map[string]string{}
	lines := strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimSpace(lines[i])
		// A trailing backslash outside quotes continues the line.
		for strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimSpace(lines[i])
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		eq := strings.IndexByte(line, '=')
		if eq <= 0 {
			if !strict {
				continue
			}
			return nil, fmt.Errorf("line %d: %q is not a KEY=value assignment", lineNo, truncate(line))
		}
		key := strings.TrimSpace(line[:eq])
		if !validName(key) {
			if !strict {
				continue
			}
			return nil, fmt.Errorf("line %d: %q is not a variable name", lineNo, truncate(key))
		}
		val, err := shellValue(line[eq+1:])
		if err != nil {
			if !strict {
				continue
			}
			return nil, fmt.Errorf("line %d: %s: %w", lineNo, key, err)
		}
		vars[key] = val
	}
	return vars, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// shellValue unquotes one assigned value: quoted and bare parts may
// follow each other ("a"'b'c); an unquoted # after a blank starts a
// comment; unquoted blanks end the value.
func shellValue(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
					switch s[j] {
					case '"', '\\', '$', '`':
					default:
						b.WriteByte('\\')
					}
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return "", fmt.Errorf("unterminated double quote")
			}
			i = j
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return "", fmt.Errorf("unterminated single quote")
			}
			b.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == ' ' || c == '\t':
			rest := strings.TrimSpace(s[i:])
			if rest == "" || rest[0] == '#' {
				return b.String(), nil
			}
			return "", fmt.Errorf("unquoted blank in the value before %q", truncate(rest))
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

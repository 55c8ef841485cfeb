package ostree

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// BootEntry is one Boot Loader Specification entry
// (https://uapi-group.org/specifications/specs/boot_loader_specification/)
// as ostree writes them to /boot/loader.N/entries/ostree-*.conf: one "key
// value" pair a line, '#' comments. ostree reads only title, version,
// options, linux, initrd (which may repeat) and devicetree; other keys are
// kept in Keys.
type BootEntry struct {
	// File is the entry's file name, e.g. ostree-1-fedora.conf.
	File    string
	Title   string
	Version string
	Options string
	Linux   string
	Initrds []string
	// Keys holds every key's last value.
	Keys map[string]string
}

// OstreeArg returns the value of the ostree= kernel argument in Options.
func (e *BootEntry) OstreeArg() string {
	return kernelArg(e.Options, "ostree")
}

// kernelArg returns the value of the last name=value argument in a
// space-separated kernel command line.
func kernelArg(cmdline, name string) string {
	val := ""
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			val = v
		}
	}
	return val
}

// ParseBootEntry parses the text of a BLS entry. name is used in errors.
func ParseBootEntry(name string, data []byte) (*BootEntry, error) {
	e := &BootEntry{File: name, Keys: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		// libostree splits at the first space or tab, like the spec.
		key, val, _ := strings.Cut(strings.Map(func(r rune) rune {
			if r == '\t' {
				return ' '
			}
			return r
		}, l), " ")
		val = strings.TrimSpace(val)
		if strings.ContainsRune(l, 0) {
			return nil, fmt.Errorf("boot entry %s line %d: contains a nul byte", name, line)
		}
		e.Keys[key] = val
		switch key {
		case "title":
			e.Title = val
		case "version":
			e.Version = val
		case "options":
			e.Options = val
		case "linux":
			e.Linux = val
		case "initrd":
			e.Initrds = append(e.Initrds, val)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("boot entry %s: %w", name, err)
	}
	if e.Options == "" && e.Linux == "" {
		return nil, fmt.Errorf("boot entry %s: no options and no linux line", name)
	}
	return e, nil
}

// strverscmp compares version strings the way glibc's strverscmp(3) does,
// which is how libostree orders BLS entries by their version field: runs
// of digits compare as numbers, and a run with leading zeros compares as a
// fraction (so "009" < "01" < "1" < "9" < "10").
func strverscmp(a, b string) int {
	const (
		sN  = 0 // normal
		sI  = 3 // comparing an integral part
		sF  = 6 // comparing a fractional part
		sZ  = 9 // idem, leading zeros only
		cmp = 2
		ln  = 3
	)
	next := [12]int{
		sN, sI, sZ,
		sN, sI, sI,
		sN, sF, sF,
		sN, sF, sZ,
	}
	result := [36]int{
		cmp, cmp, cmp, cmp, ln, cmp, cmp, cmp, cmp,
		cmp, -1, -1, +1, ln, ln, +1, ln, ln,
		cmp, cmp, cmp, cmp, cmp, cmp, cmp, cmp, cmp,
		cmp, +1, +1, -1, cmp, cmp, -1, cmp, cmp,
	}
	at := func(s string, i int) int {
		if i < len(s) {
			return int(s[i])
		}
		return 0
	}
	isDigit := func(c int) bool { return c >= '0' && c <= '9' }
	class := func(c int) int {
		n := 0
		if c == '0' {
			n++
		}
		if isDigit(c) {
			n++
		}
		return n
	}
	if a == b {
		return 0
	}
	i := 0
	c1, c2 := at(a, i), at(b, i)
	i++
	state := sN + class(c1)
	diff := c1 - c2
	for diff == 0 {
		if c1 == 0 {
			return 0
		}
		state = next[state]
		c1, c2 = at(a, i), at(b, i)
		i++
		state += class(c1)
		diff = c1 - c2
	}
	switch r := result[state*3+class(c2)]; r {
	case cmp:
		return sign(diff)
	case ln:
		j := i
		for isDigit(at(a, j)) {
			if !isDigit(at(b, j)) {
				return 1
			}
			j++
		}
		if isDigit(at(b, j)) {
			return -1
		}
		return sign(diff)
	default:
		return r
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// CompareVersions orders two version strings as libostree orders BLS
// entries (strverscmp): -1, 0 or 1.
func CompareVersions(a, b string) int { return strverscmp(a, b) }

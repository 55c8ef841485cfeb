// Package format prints run records. Each format is one file behind the
// Formatter interface: text for a terminal, json (the run record itself),
// junit (JUnit XML as Jenkins and GitLab read it), tap (TAP version 13) and
// prometheus (the Prometheus text exposition format, newest run only).
// Formatters only present; whether a run passed was decided by the runner.
package format

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Formatter writes runs, oldest first.
type Formatter interface {
	Write(w io.Writer, runs []*record.Record) error
}

// Options tune a formatter.
type Options struct {
	// Color enables ANSI colours (text only); set it only for a terminal.
	Color bool
	// List makes json print an array even for one run (results), instead
	// of the record itself (run).
	List bool
	// Verbose makes text print evidence for every check, not just bad ones.
	Verbose bool
}

var formats = map[string]func(Options) Formatter{
	"text":  func(o Options) Formatter { return Text{Color: o.Color, Verbose: o.Verbose} },
	"json":  func(o Options) Formatter { return JSON{List: o.List} },
	"junit": func(Options) Formatter { return JUnit{} },
	"tap":   func(Options) Formatter { return TAP{} },

	"prometheus": func(Options) Formatter { return Prometheus{} },
}

// Names lists the format names.
func Names() []string {
	var n []string
	for k := range formats {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Get returns the named formatter or an error listing the valid names.
func Get(name string, o Options) (Formatter, error) {
	f, ok := formats[name]
	if !ok {
		return nil, fmt.Errorf("unknown format %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	return f(o), nil
}

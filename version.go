// Package atomicselftest holds what the whole module shares at its root:
// the version, read from the VERSION file that the RPM spec reads too, so
// `atomic-selftest version` and the package agree.
package atomicselftest

import (
	_ "embed"
	"strings"
)

//go:embed VERSION
var versionFile string

// Version is the tool's version.
var Version = strings.TrimSpace(versionFile)

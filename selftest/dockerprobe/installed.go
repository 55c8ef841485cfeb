package dockerprobe

import (
	"fmt"
	"os"
	"path/filepath"
)

// UnitDirs are where systemd loads unit files from (systemd.unit(5),
// "Unit File Load Path").
var UnitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// Installed returns "" when a container runtime is installed on the host
// (its socket exists, or its unit file does; path maps a host path to
// the file to look at), else a skip reason. A runtime that is installed
// but stopped counts as installed: its socket may be gone, its unit is
// not, so the checks fail there instead of skipping.
func Installed(socket, unit string, path func(string) string) string {
	if _, err := os.Stat(socket); err == nil {
		return ""
	}
	for _, d := range UnitDirs {
		if _, err := os.Stat(path(filepath.Join(d, unit))); err == nil {
			return ""
		}
	}
	return fmt.Sprintf("no container runtime on this host: neither the socket %s nor the unit %s exists", socket, unit)
}

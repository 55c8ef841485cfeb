package dockerprobe

import (
	"fmt"
	"os"
	"path/filepath"
)

// UnitDirs are where systemd loads unit files from (systemd.unit(5),
// "Unit File Load Path").
var UnitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// Installed returns "" when a container runtime is expected on the host,
// else a skip reason. It is expected when its socket exists, or when its
// unit file is installed (path maps a host path to the file to look at)
// and systemd, which would start it, runs the host (systemd true). So a
// runtime that is installed but stopped is a failure, not a skip, while a
// machine without systemd as PID 1 (a build container) skips.
func Installed(socket, unit string, path func(string) string, systemd bool) string {
	if _, err := os.Stat(socket); err == nil {
		return ""
	}
	if UnitInstalled(unit, path) {
		if systemd {
			return ""
		}
		return fmt.Sprintf("%s is installed, but systemd, which would start it, is not PID 1 here and nothing listens on %s", unit, socket)
	}
	return fmt.Sprintf("no container runtime on this host: neither the socket %s nor the unit %s exists", socket, unit)
}

// UnitInstalled reports whether unit's file exists under one of UnitDirs.
func UnitInstalled(unit string, path func(string) string) bool {
	for _, d := range UnitDirs {
		if _, err := os.Stat(path(filepath.Join(d, unit))); err == nil {
			return true
		}
	}
	return false
}

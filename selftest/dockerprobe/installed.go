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
// unit file is installed (exists says whether a host path exists; the
// socket is always the live one) and systemd, which would start it, runs the host (systemd true). So a
// runtime that is installed but stopped is a failure, not a skip, while a
// machine without systemd as PID 1 (a build container) skips.
func Installed(socket, unit string, exists func(hostPath string) bool, systemd bool) string {
	if _, err := os.Stat(socket); err == nil {
		return ""
	}
	if UnitInstalled(unit, exists) {
		if systemd {
			return ""
		}
		return fmt.Sprintf("%s is installed, but systemd, which would start it, is not PID 1 here and nothing listens on %s", unit, socket)
	}
	return fmt.Sprintf("no container runtime on this host: neither the socket %s nor the unit %s exists", socket, unit)
}

// UnitInstalled reports whether unit's file exists under one of UnitDirs.
func UnitInstalled(unit string, exists func(hostPath string) bool) bool {
	for _, d := range UnitDirs {
		if exists(filepath.Join(d, unit)) {
			return true
		}
	}
	return false
}

package storage

import (
	"context"
	"fmt"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
)

// installed: against a sysroot, the runtime unit must be in it; on a live
// host, the runtime must be expected (dockerprobe.Installed).
func installed(_ context.Context, h *selftest.RunContext) string {
	e := engineOf(h)
	if e.Podman() {
		if h.Offline {
			if dockerprobe.UnitInstalled(e.Unit, h.Exists) {
				return ""
			}
			return fmt.Sprintf("no podman in %s: the unit %s is not installed", h.Root, e.Unit)
		}
		return dockerprobe.Installed(e.Socket, e.Unit, h.Exists, h.HasSystemd())
	}
	if h.Offline {
		if dockerprobe.UnitInstalled(unitName(h), h.Exists) {
			return ""
		}
		return fmt.Sprintf("no container runtime in %s: the unit %s is not installed", h.Root, unitName(h))
	}
	return dockerprobe.Installed(e.Socket, e.Unit, h.Exists, h.HasSystemd())
}

func unitName(h *selftest.RunContext) string {
	if u := h.Config.Storage.RuntimeUnitFile; u != "" {
		return u
	}
	return h.Config.Runtime.Unit
}

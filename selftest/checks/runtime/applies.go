package runtime

import (
	"context"
	"fmt"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
)

func needRuntime(_ context.Context, h *selftest.Host) string {
	e := engine(h)
	return dockerprobe.Installed(e.Socket, e.Unit, h.Exists, hasSystemd(h))
}

// engine is the container engine [runtime] engine (or the run's --engine)
// chose on this host.
func engine(h *selftest.Host) dockerprobe.Engine {
	return dockerprobe.ChooseEngine(h.Config.Runtime, h.Exists)
}

// recordEngine records which engine the check talks to and why.
func recordEngine(t *selftest.T) dockerprobe.Engine {
	e := engine(t.Host)
	t.Detail("engine", e)
	t.Evidence("container engine", "", fmt.Sprintf("%s (%s)", e.Name, e.Why))
	return e
}

// hasSystemd: systemd runs the host, or a systemd probe was supplied.
func hasSystemd(h *selftest.Host) bool { return h.NewSystemd != nil || h.SystemdBooted() }

func needSystemdAndRuntime(ctx context.Context, h *selftest.Host) string {
	if !hasSystemd(h) {
		return "systemd is not PID 1 on this host (/run/systemd/system is missing)"
	}
	return needRuntime(ctx, h)
}

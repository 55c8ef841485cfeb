package runtime

import (
	"context"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
)

func needRuntime(_ context.Context, h *selftest.Host) string {
	return dockerprobe.Installed(h.Config.Runtime.Socket, h.Config.Runtime.Unit, h.Exists, hasSystemd(h))
}

// hasSystemd: systemd runs the host, or a systemd probe was supplied.
func hasSystemd(h *selftest.Host) bool { return h.NewSystemd != nil || h.SystemdBooted() }

func needSystemdAndRuntime(ctx context.Context, h *selftest.Host) string {
	if !hasSystemd(h) {
		return "systemd is not PID 1 on this host (/run/systemd/system is missing)"
	}
	return needRuntime(ctx, h)
}

package runtime

import (
	"context"
	"fmt"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
)

func needRuntime(_ context.Context, h *selftest.RunContext) string {
	e := engine(h)
	return dockerprobe.Installed(e.Socket, e.Unit, h.Exists, h.HasSystemd())
}

// engine is the container engine [runtime] engine (or the run's --engine)
// chose on this host.
func engine(h *selftest.RunContext) dockerprobe.Engine {
	return dockerprobe.ChooseEngine(h.Config.Runtime, h.Exists)
}

// recordEngine records which engine the check talks to and why.
func recordEngine(t *selftest.T) dockerprobe.Engine {
	e := engine(t.RunContext)
	t.Detail("engine", e)
	t.Evidence("container engine", "", fmt.Sprintf("%s (%s)", e.Name, e.Why))
	return e
}

func needSystemdAndRuntime(ctx context.Context, h *selftest.RunContext) string {
	if why := selftest.NeedSystemd(ctx, h); why != "" {
		return why
	}
	return needRuntime(ctx, h)
}

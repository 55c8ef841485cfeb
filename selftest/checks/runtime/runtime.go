// Package runtime owns the container runtime checks: the runtime's
// service started properly and answers on its socket (runtime.service,
// C9), and it runs containers, through the Engine API (runtime.run, C8)
// and through `atomic run` (runtime.atomic-run, C8). The runtime is
// whatever speaks the Docker Engine API on [runtime] socket (docker, or a
// podman service); the unit is [runtime] unit. See selftest/dockerprobe
// for the probe container and how leftovers of killed runs are found.
package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
)

// Check timeouts. A probe cycle takes about a second on an idle host;
// the bound leaves room for a host still busy booting.
const (
	serviceTimeout = 60 * time.Second
	runTimeout     = 120 * time.Second
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "runtime.service",
		Criterion:   "C9",
		Required:    true,
		Description: "the container runtime's unit is active, started successfully, is not restarting in a loop, and its daemon answers a ping",
		Timeout:     serviceTimeout,
		Applies:     needSystemdAndRuntime,
		Run:         checkService,
	})
	selftest.Register(&selftest.Check{
		ID:          "runtime.run",
		Criterion:   "C8",
		Required:    true,
		Description: "a probe container made offline from this binary runs through the Engine API: pid 1, read-only root, no network, removed afterwards",
		Timeout:     runTimeout,
		Applies:     needRuntime,
		Run:         checkRun,
	})
	selftest.Register(&selftest.Check{
		ID:          "runtime.atomic-run",
		Criterion:   "C8",
		Required:    true,
		Description: "`atomic run` runs the same probe image and the probe's marker is verified",
		Timeout:     runTimeout,
		Applies:     needAtomic,
		Run:         checkAtomicRun,
	})
}

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

// dial connects to the runtime and pings it within [runtime]
// ping_timeout, recording the evidence, so a stalled daemon is reported as
// such rather than as a slow probe. A nil client with a nil error means
// the socket is misconfigured and t already has an error verdict.
func dial(ctx context.Context, t *selftest.T) (*dockerprobe.Client, error) {
	rc := t.Host.Config.Runtime
	c, err := dockerprobe.Dial(rc.Socket)
	if err != nil {
		t.Error("%v", err)
		return nil, nil
	}
	t.Cleanup(func() { c.Close() })
	want := fmt.Sprintf("an answer within %s", rc.PingTimeout.D())
	ver, took, err := c.Ping(ctx, rc.PingTimeout.D())
	if err != nil {
		t.Evidence("ping "+rc.Socket, want, err.Error())
		return nil, err
	}
	t.Evidence("ping "+rc.Socket, want, fmt.Sprintf("API %s in %s", ver, ms(took)))
	t.Detail("api_version", ver)
	return c, nil
}

// connect is dial for checks that need the daemon: an unreachable daemon
// fails the check. nil means the verdict is given.
func connect(ctx context.Context, t *selftest.T) *dockerprobe.Client {
	c, err := dial(ctx, t)
	if err != nil {
		t.Fail("%v", err)
	}
	return c
}

// probeBinary is the binary the probe image is made of.
func probeBinary(h *selftest.Host) (string, error) {
	if h.ProbeBinary != "" {
		return h.ProbeBinary, nil
	}
	return probe.Binary()
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

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

// dial connects to the runtime and pings it within [runtime]
// ping_timeout, recording the evidence, so a stalled daemon is reported as
// such rather than as a slow probe. A nil client with a nil error means
// the socket is misconfigured and t already has an error verdict.
func dial(ctx context.Context, t *selftest.T, e dockerprobe.Engine) (*dockerprobe.Client, error) {
	rc := t.Config.Runtime
	c, err := dockerprobe.Dial(e.Socket)
	if err != nil {
		t.Error("%v", err)
		return nil, nil
	}
	c.Podman = e.Podman()
	t.Cleanup(func() { c.Close() })
	want := fmt.Sprintf("an answer within %s", rc.PingTimeout.D())
	ver, took, err := c.Ping(ctx, rc.PingTimeout.D())
	if err != nil {
		t.Evidence("ping "+e.Socket, want, err.Error())
		return nil, err
	}
	t.Evidence("ping "+e.Socket, want, fmt.Sprintf("API %s in %s", ver, ms(took)))
	t.Detail("api_version", ver)
	return c, nil
}

// connect is dial for checks that need the daemon: an unreachable daemon
// fails the check. nil means the verdict is given.
func connect(ctx context.Context, t *selftest.T, e dockerprobe.Engine) *dockerprobe.Client {
	c, err := dial(ctx, t, e)
	if err != nil {
		t.Fail("%v", err)
	}
	return c
}

// probeBinary is the binary the probe image is made of.
func probeBinary(h *selftest.RunContext) (string, error) {
	if h.ProbeBinary != "" {
		return h.ProbeBinary, nil
	}
	return probe.Binary()
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

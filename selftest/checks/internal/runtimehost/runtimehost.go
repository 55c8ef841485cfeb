// Package runtimehost is what the runtime.* and storage.* check areas
// share: the container engine a run talks to ([runtime] engine, or what
// is installed), the applicability tests that need it, and dialing it
// within [runtime] ping_timeout with the evidence recorded.
package runtimehost

import (
	"context"
	"fmt"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
)

// Engine is the container engine [runtime] engine (or the run's
// --engine) chose on this host.
func Engine(rc *selftest.RunContext) dockerprobe.Engine {
	return dockerprobe.ChooseEngine(rc.Config.Runtime, rc.Exists)
}

// RecordEngine is Engine, recorded in t: which engine the check talks to
// and why.
func RecordEngine(t *selftest.T) dockerprobe.Engine {
	e := Engine(t.RunContext)
	t.Detail("engine", e)
	t.Evidence("container engine", "", fmt.Sprintf("%s (%s)", e.Name, e.Why))
	return e
}

// NeedRuntime is the applicability test of a check that talks to the
// running engine: it must be expected here (dockerprobe.Installed).
func NeedRuntime(_ context.Context, rc *selftest.RunContext) string {
	e := Engine(rc)
	return dockerprobe.Installed(e.Socket, e.Unit, rc.Exists, rc.HasSystemd())
}

// NeedSystemdAndRuntime is NeedRuntime on a host systemd runs.
func NeedSystemdAndRuntime(ctx context.Context, rc *selftest.RunContext) string {
	if why := selftest.NeedSystemd(ctx, rc); why != "" {
		return why
	}
	return NeedRuntime(ctx, rc)
}

// NeedRuntimeUnit is the applicability test of a check of the engine's
// configuration: against a sysroot, the engine's unit must be in it; on
// a live host, the engine must be expected (dockerprobe.Installed).
func NeedRuntimeUnit(_ context.Context, rc *selftest.RunContext) string {
	e := Engine(rc)
	unit, what := e.Unit, "podman"
	if !e.Podman() {
		unit, what = DockerUnit(rc), "container runtime"
	}
	if rc.Offline {
		if dockerprobe.UnitInstalled(unit, rc.Exists) {
			return ""
		}
		return fmt.Sprintf("no %s in %s: the unit %s is not installed", what, rc.Root, unit)
	}
	return dockerprobe.Installed(e.Socket, e.Unit, rc.Exists, rc.HasSystemd())
}

// DockerUnit is the unit whose command line starts dockerd:
// [storage] runtime_unit_file, else [runtime] unit.
func DockerUnit(rc *selftest.RunContext) string {
	if u := rc.Config.Storage.RuntimeUnitFile; u != "" {
		return u
	}
	return rc.Config.Runtime.Unit
}

// Dial connects to the engine and pings it within [runtime]
// ping_timeout, recording the evidence, so a stalled daemon is reported
// as such rather than as a slow probe. A nil client with a nil error
// means the socket is misconfigured and t already has an error verdict.
// The client is closed when the check ends.
func Dial(ctx context.Context, t *selftest.T, e dockerprobe.Engine) (*dockerprobe.Client, error) {
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
	t.Evidence("ping "+e.Socket, want, fmt.Sprintf("API %s in %s", ver, Ms(took)))
	t.Detail("api_version", ver)
	return c, nil
}

// Connect is Dial for checks that need the daemon: an unreachable
// daemon fails the check. nil means the verdict is given.
func Connect(ctx context.Context, t *selftest.T, e dockerprobe.Engine) *dockerprobe.Client {
	c, err := Dial(ctx, t, e)
	if err != nil {
		t.Fail("%v", err)
	}
	return c
}

// ProbeBinary is the binary the probe image is made of: the run's
// --probe-binary, else the running executable.
func ProbeBinary(rc *selftest.RunContext) (string, error) {
	if rc.ProbeBinary != "" {
		return rc.ProbeBinary, nil
	}
	return probe.Binary()
}

// Ms formats d in whole milliseconds for evidence, MsValue for details.
func Ms(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", MsValue(d))
}

// MsValue is d in milliseconds.
func MsValue(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

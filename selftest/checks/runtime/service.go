package runtime

import (
	"context"
	"fmt"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest"
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
}

// checkService passes when the runtime's unit is loaded and active, its
// last start ended with Result=success, systemd restarted it at most
// [runtime] max_restarts times (NRestarts, systemd.exec(5)), and the
// daemon answers a ping within [runtime] ping_timeout.
func checkService(ctx context.Context, t *selftest.T) {
	rc := t.Host.Config.Runtime
	sd, err := t.Host.Systemd(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	u, err := sd.Unit(ctx, rc.Unit)
	if err != nil {
		t.Error("%v", err)
		return
	}
	t.Detail("unit", u)
	var problems []string
	t.Evidence(rc.Unit+" LoadState", "loaded", u.LoadState)
	if u.LoadState != "loaded" {
		t.Fail("the runtime's unit %s is %s, not loaded", rc.Unit, u.LoadState)
		return
	}
	t.Evidence(rc.Unit+" ActiveState", "active", u.ActiveState+"/"+u.SubState)
	if u.ActiveState != "active" {
		problems = append(problems, fmt.Sprintf("%s is %s (%s), not active", rc.Unit, u.ActiveState, u.SubState))
	}
	if strings.HasSuffix(rc.Unit, ".service") {
		t.Evidence(rc.Unit+" Result", "success", u.Result)
		if u.Result != "success" {
			problems = append(problems, fmt.Sprintf("%s's last start ended with Result=%s (main process status %d)", rc.Unit, u.Result, u.ExecMainStatus))
		}
		t.Evidence(rc.Unit+" NRestarts", fmt.Sprintf("at most %d", rc.MaxRestarts), fmt.Sprint(u.NRestarts))
		if int(u.NRestarts) > rc.MaxRestarts {
			problems = append(problems, fmt.Sprintf("systemd restarted %s %d times (more than %d): it is restarting in a loop", rc.Unit, u.NRestarts, rc.MaxRestarts))
		}
	}
	c, err := dial(ctx, t)
	if c == nil && err == nil {
		return
	}
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		t.Fail("%s", strings.Join(problems, "; "))
		return
	}
	t.Pass("%s is active, started successfully, restarted %d times, and answers on %s", rc.Unit, u.NRestarts, rc.Socket)
}

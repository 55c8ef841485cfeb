package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/runtimehost"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "runtime.service",
		Criterion:   "C9",
		Required:    true,
		Description: "the container runtime's unit is active (docker.service started successfully and is not restarting in a loop; podman.socket is listening), and its API answers a ping",
		Timeout:     60 * time.Second,
		Applies:     runtimehost.NeedSystemdAndRuntime,
		Run:         checkService,
	})
}

// checkService passes when the engine's unit is loaded and active and its
// API answers a ping within [runtime] ping_timeout. For docker the unit is
// docker.service, whose last start must have ended with Result=success
// and which systemd restarted at most [runtime] max_restarts times
// (NRestarts, systemd.exec(5)). For podman it is podman.socket, which must
// be listening; the ping is what starts podman.service through it, and its
// answer must name the podman (the Libpod-Api-Version header).
func checkService(ctx context.Context, t *selftest.T) {
	rc := t.Config.Runtime
	e := runtimehost.RecordEngine(t)
	sd, err := t.Host.Systemd(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	u, err := sd.Unit(ctx, e.Unit)
	if err != nil {
		t.Error("%v", err)
		return
	}
	t.Detail("unit", u)
	var problems []string
	t.Evidence(e.Unit+" LoadState", "loaded", u.LoadState)
	if u.LoadState != "loaded" {
		t.Fail("the %s runtime's unit %s is %s, not loaded", e.Name, e.Unit, u.LoadState)
		return
	}
	t.Evidence(e.Unit+" ActiveState", "active", u.ActiveState+"/"+u.SubState)
	if u.ActiveState != "active" {
		p := fmt.Sprintf("%s is %s (%s), not active", e.Unit, u.ActiveState, u.SubState)
		if strings.HasSuffix(e.Unit, ".socket") {
			p = fmt.Sprintf("%s is %s (%s): nothing listens on %s", e.Unit, u.ActiveState, u.SubState, e.Socket)
			if link, enabled := socketEnabled(t.Host, e.Unit); !enabled {
				p += fmt.Sprintf(", and the unit is not enabled (no %s): `systemctl enable --now %s`", link, e.Unit)
			} else {
				p += fmt.Sprintf(" although the unit is enabled: `systemctl start %s`, and see its journal", e.Unit)
			}
		}
		problems = append(problems, p)
	}
	if strings.HasSuffix(e.Unit, ".service") {
		t.Evidence(e.Unit+" Result", "success", u.Result)
		if u.Result != "success" {
			problems = append(problems, fmt.Sprintf("%s's last start ended with Result=%s (main process status %d)", e.Unit, u.Result, u.ExecMainStatus))
		}
		t.Evidence(e.Unit+" NRestarts", fmt.Sprintf("at most %d", rc.MaxRestarts), fmt.Sprint(u.NRestarts))
		if int(u.NRestarts) > rc.MaxRestarts {
			problems = append(problems, fmt.Sprintf("systemd restarted %s %d times (more than %d): it is restarting in a loop", e.Unit, u.NRestarts, rc.MaxRestarts))
		}
	}
	if len(problems) > 0 && e.Podman() {
		// An inactive podman.socket has nothing behind it to ping.
		t.Fail("%s", strings.Join(problems, "; "))
		return
	}
	c, err := runtimehost.Dial(ctx, t, e)
	if c == nil && err == nil {
		return
	}
	if err != nil {
		problems = append(problems, err.Error())
	}
	var libpod string
	if err == nil && e.Podman() {
		libpod = podmanAnswers(ctx, t, c, e, &problems)
	}
	if len(problems) > 0 {
		t.Fail("%s", strings.Join(problems, "; "))
		return
	}
	if e.Podman() {
		t.Pass("%s is listening on %s and podman %s's API service answered a ping through it (the engine: %s)", e.Unit, e.Socket, libpod, e.Why)
		return
	}
	t.Pass("%s is active, started successfully, restarted %d times, and answers on %s (the engine: %s)", e.Unit, u.NRestarts, e.Socket, e.Why)
}

// podmanAnswers reads the Libpod-Api-Version of podman's answer to a
// ping, and podman.service's state after the ping started it: a service
// that the socket started and that failed is a problem even when a later
// start answered. It returns the podman version.
func podmanAnswers(ctx context.Context, t *selftest.T, c *dockerprobe.Client, e dockerprobe.Engine, problems *[]string) string {
	v, err := c.LibpodVersion(ctx, t.Config.Runtime.PingTimeout.D())
	switch {
	case err != nil:
		t.Evidence("Libpod-Api-Version of "+e.Socket, "a podman version", err.Error())
		*problems = append(*problems, err.Error())
		return ""
	case v == "":
		t.Evidence("Libpod-Api-Version of "+e.Socket, "a podman version", "none")
		*problems = append(*problems, fmt.Sprintf("%s answers, but not as podman: its ping has no Libpod-Api-Version header (is it docker?)", e.Socket))
		return ""
	}
	t.Evidence("Libpod-Api-Version of "+e.Socket, "a podman version", v)
	t.Detail("libpod_api_version", v)
	service := strings.TrimSuffix(e.Unit, ".socket") + ".service"
	sd, err := t.Host.Systemd(ctx)
	if err != nil {
		return v
	}
	su, err := sd.Unit(ctx, service)
	if err != nil || su.LoadState != "loaded" {
		return v
	}
	t.Evidence(service+" Result", "success", su.Result)
	if su.Result != "" && su.Result != "success" {
		*problems = append(*problems, fmt.Sprintf("%s, which %s starts, last ended with Result=%s (main process status %d)", service, e.Unit, su.Result, su.ExecMainStatus))
	}
	return v
}

// socketEnabled reports whether a socket unit is enabled: linked into
// sockets.target.wants (its [Install] WantedBy=sockets.target), under /etc
// or the vendor directory. It returns the link it looked for first.
func socketEnabled(h *selftest.Host, unit string) (string, bool) {
	links := []string{filepath.Join("/etc/systemd/system/sockets.target.wants", unit)}
	for _, d := range dockerprobe.UnitDirs[1:] {
		links = append(links, filepath.Join(d, "sockets.target.wants", unit))
	}
	for _, l := range links {
		if h.Exists(l) {
			return l, true
		}
	}
	return links[0], false
}

package dockerprobe

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/config"
)

// Engine is the container engine the runtime and storage checks talk to,
// and why it was chosen.
type Engine struct {
	// Name is config.EngineDocker or config.EnginePodman.
	Name string `json:"name"`
	// Socket is its Engine API socket: docker's, or the podman API
	// service's Docker-compatible one.
	Socket string `json:"socket"`
	// Unit is docker's service, or the socket unit that starts podman's
	// API service.
	Unit string `json:"unit"`
	// Why says how it was chosen.
	Why string `json:"why"`
}

// Podman reports whether the engine is podman.
func (e Engine) Podman() bool { return e.Name == config.EnginePodman }

// wantsDirs are where `systemctl enable` links docker's and podman's units
// (their [Install] sections: WantedBy=multi-user.target for
// docker.service, WantedBy=sockets.target for docker.socket and
// podman.socket; moby's contrib/init/systemd and containers/podman's
// contrib/systemd/system).
var wantsDirs = []string{"/etc/systemd/system/multi-user.target.wants", "/etc/systemd/system/sockets.target.wants"}

// podmanBinaries are where distributions install podman.
var podmanBinaries = []string{"/usr/bin/podman", "/bin/podman"}

// ChooseEngine resolves [runtime] engine. "docker" and "podman" are taken
// as they are; "auto" picks docker when its socket exists or docker.service
// or docker.socket is enabled, else podman when its socket unit or binary
// is installed, else docker (whose checks then say that no runtime is
// installed). exists says whether a host path exists; the sockets are the
// live ones.
func ChooseEngine(rc config.Runtime, exists func(hostPath string) bool) Engine {
	docker := Engine{Name: config.EngineDocker, Socket: rc.Socket, Unit: rc.Unit}
	podman := Engine{Name: config.EnginePodman, Socket: rc.PodmanSocket, Unit: rc.PodmanUnit}
	switch rc.Engine {
	case config.EngineDocker:
		docker.Why = "runtime.engine is docker"
		return docker
	case config.EnginePodman:
		podman.Why = "runtime.engine is podman"
		return podman
	}
	if _, err := os.Stat(rc.Socket); err == nil {
		docker.Why = fmt.Sprintf("runtime.engine is auto and docker's socket %s exists", rc.Socket)
		return docker
	}
	for _, u := range []string{rc.Unit, "docker.socket"} {
		for _, d := range wantsDirs {
			if p := filepath.Join(d, u); exists(p) {
				docker.Why = fmt.Sprintf("runtime.engine is auto and %s is enabled (%s)", u, p)
				return docker
			}
		}
	}
	if UnitInstalled(rc.PodmanUnit, exists) {
		podman.Why = fmt.Sprintf("runtime.engine is auto, docker is neither enabled nor running, and %s is installed", rc.PodmanUnit)
		return podman
	}
	if _, err := os.Stat(rc.PodmanSocket); err == nil {
		podman.Why = fmt.Sprintf("runtime.engine is auto, docker is neither enabled nor running, and podman's socket %s exists", rc.PodmanSocket)
		return podman
	}
	for _, b := range podmanBinaries {
		if exists(b) {
			podman.Why = fmt.Sprintf("runtime.engine is auto, docker is neither enabled nor running, and %s is installed", b)
			return podman
		}
	}
	docker.Why = "runtime.engine is auto and neither docker nor podman is enabled or installed"
	return docker
}

// LibpodVersion asks GET /_ping and returns its Libpod-Api-Version header:
// podman's API service answers every request with it, the current version
// of its libpod API tree (containers/podman version/version.go, ApiVersion:
// "GET|HEAD /_ping ... provides the API-Version and Libpod-API-Version
// headers"); docker does not. "" with a nil error means the
// daemon answered the ping but is not podman. The connection to a
// socket-activated podman.socket starts the API service, so an answer
// proves it came up.
func (c *Client) LibpodVersion(ctx context.Context, timeout time.Duration) (string, error) {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := c.raw()
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, "http://podman/_ping", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "atomic-selftest")
	res, err := hc.Do(req)
	if err != nil {
		if pctx.Err() == context.DeadlineExceeded {
			return "", &Error{Kind: KindNoAnswer, Err: fmt.Errorf("ping: the runtime at %s did not answer within %s", c.Socket, timeout)}
		}
		return "", &Error{Kind: KindUnreachable, Err: fmt.Errorf("ping: cannot connect to the runtime at %s (is the socket listening?): %w", c.Socket, err)}
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", &Error{Kind: KindDaemon, Err: fmt.Errorf("ping: the runtime at %s answered %s", c.Socket, res.Status)}
	}
	return res.Header.Get("Libpod-Api-Version"), nil
}

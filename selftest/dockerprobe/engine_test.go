package dockerprobe_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
)

// TestChooseEngine: auto prefers an enabled or running docker, then an
// installed podman, and says why; an explicit engine is taken as it is.
func TestChooseEngine(t *testing.T) {
	dir := t.TempDir()
	base := config.Defaults().Runtime
	base.Socket = filepath.Join(dir, "docker.sock") // absent
	base.PodmanSocket = filepath.Join(dir, "podman.sock")
	for _, tc := range []struct {
		name   string
		engine string
		files  []string
		want   string
		why    string
	}{
		{"both, docker enabled", "auto", []string{"/etc/systemd/system/multi-user.target.wants/docker.service", "/usr/lib/systemd/system/podman.socket", "/usr/bin/podman"}, "docker", "docker.service is enabled"},
		{"docker.socket enabled", "auto", []string{"/etc/systemd/system/sockets.target.wants/docker.socket", "/usr/bin/podman"}, "docker", "docker.socket is enabled"},
		{"docker installed, not enabled; podman.socket", "auto", []string{"/usr/lib/systemd/system/docker.service", "/usr/lib/systemd/system/podman.socket"}, "podman", "podman.socket is installed"},
		{"podman binary only", "auto", []string{"/usr/bin/podman"}, "podman", "/usr/bin/podman is installed"},
		{"nothing", "auto", nil, "docker", "neither docker nor podman"},
		{"explicit docker", "docker", []string{"/usr/bin/podman"}, "docker", "runtime.engine is docker"},
		{"explicit podman", "podman", []string{"/etc/systemd/system/multi-user.target.wants/docker.service"}, "podman", "runtime.engine is podman"},
	} {
		rc := base
		rc.Engine = tc.engine
		have := map[string]bool{}
		for _, f := range tc.files {
			have[f] = true
		}
		e := dockerprobe.ChooseEngine(rc, func(p string) bool { return have[p] })
		if e.Name != tc.want || !strings.Contains(e.Why, tc.why) {
			t.Errorf("%s: %+v, want %s because %q", tc.name, e, tc.want, tc.why)
		}
		wantSock := rc.Socket
		if tc.want == "podman" {
			wantSock = rc.PodmanSocket
		}
		if e.Socket != wantSock {
			t.Errorf("%s: socket %s, want %s", tc.name, e.Socket, wantSock)
		}
	}
}

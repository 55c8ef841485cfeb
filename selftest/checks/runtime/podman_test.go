package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/dockertest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/podmantest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// podmanHost returns a live host whose engine is podman on socket.
func podmanHost(t *testing.T, socket string) *selftest.RunContext {
	t.Helper()
	h := host(t, "/nonexistent/docker.sock")
	h.Config.Runtime.Engine = config.EnginePodman
	h.Config.Runtime.PodmanSocket = socket
	return h
}

// TestPodmanRun runs runtime.run against Debian's real podman API service
// (its Docker-compatible API): the probe passes with the sandbox the
// marker proves, and the record names the engine and why.
func TestPodmanRun(t *testing.T) {
	s := podmantest.Start(t)
	res := run(t, podmanHost(t, s.Socket), "runtime.run", 0)
	checktest.Expect(t, res, record.StatusPass, "podman", s.Socket, "pid 1", "read-only")
	e, ok := res.Details["engine"].(dockerprobe.Engine)
	if !ok || e.Name != "podman" || !strings.Contains(e.Why, "runtime.engine is podman") {
		t.Errorf("engine detail %#v", res.Details["engine"])
	}
	seen := map[string]string{}
	for _, ev := range res.Evidence {
		seen[ev.Name] = ev.Seen
	}
	if seen["probe pid"] != "1" || seen["probe root read-only"] != "true" || seen["probe network interfaces"] != "none" {
		t.Errorf("evidence %+v", res.Evidence)
	}
	if !strings.HasPrefix(seen["container engine"], "podman (") {
		t.Errorf("container engine evidence %q", seen["container engine"])
	}
}

// TestPodmanRunFiftyTimesLeavesOnlyTheKeptImage: 50 runtime.run checks
// against the real podman service, then nothing the probe labelled remains
// (no container, no image, whoever owned it: the service is private) but
// the one kept probe image, labelled with its layer's digest and tagged
// with it, and nothing stays in the service's temporary directory or
// container storage.
func TestPodmanRunFiftyTimesLeavesOnlyTheKeptImage(t *testing.T) {
	s := podmantest.Start(t)
	h := podmanHost(t, s.Socket)
	for i := 0; i < 50; i++ {
		res := run(t, h, "runtime.run", 0)
		if res.Status != record.StatusPass {
			t.Fatalf("run %d: %s: %s", i+1, res.Status, res.Message)
		}
	}
	c := s.Client(t)
	owned, err := c.ListOwned(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(owned.Containers) > 0 || len(owned.Images) > 0 {
		t.Errorf("left on podman after 50 runs: containers %v, images %v", owned.Containers, owned.Images)
	}
	api, err := c.API(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if il, err := api.ImageList(context.Background(), client.ImageListOptions{All: true}); err != nil {
		t.Fatal(err)
	} else if len(il.Items) != 1 {
		t.Errorf("%d images left on podman after 50 runs, want the kept probe image only: %+v", len(il.Items), il.Items)
	} else if im := il.Items[0]; im.Labels[dockerprobe.LabelProbeLayer] == "" ||
		!slices.Contains(im.RepoTags, "localhost/"+dockerprobe.KeptImageRef(im.Labels[dockerprobe.LabelProbeLayer])) {
		t.Errorf("the image left on podman is %v with labels %v, want the kept probe image", im.RepoTags, im.Labels)
	}
	if left := s.Leftovers(); len(left) > 0 {
		t.Errorf("left under %s after 50 runs: %v", s.Dir, left)
	}
}

// TestPodmanService: runtime.service for podman. podman.socket listening
// and the ping answered by podman passes and names the podman version;
// podman.socket inactive fails and says nothing listens and whether the
// unit is enabled; a socket that answers but is docker fails.
func TestPodmanService(t *testing.T) {
	s := podmantest.Start(t)
	h := podmanHost(t, s.Socket)
	h.NewSystemd = checktest.NewSystemd(map[string]selftest.UnitState{
		"podman.socket":  {LoadState: "loaded", ActiveState: "active", SubState: "listening"},
		"podman.service": {LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success"},
	}).Open
	out, err := podmanVersion(t, s)
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, h, "runtime.service", 0)
	checktest.Expect(t, res, record.StatusPass, "podman.socket is listening on "+s.Socket, "podman "+out)
	if v, _ := res.Details["libpod_api_version"].(string); v != out {
		t.Errorf("libpod_api_version %q, want %q", v, out)
	}

	h = podmanHost(t, s.Socket) // a host opens its systemd once
	h.NewSystemd = checktest.NewSystemd(map[string]selftest.UnitState{
		"podman.socket": {LoadState: "loaded", ActiveState: "inactive", SubState: "dead"},
	}).Open
	res = run(t, h, "runtime.service", 0)
	_, enabled := socketEnabled(h.Host, "podman.socket")
	want := "not enabled"
	if enabled {
		want = "although the unit is enabled"
	}
	checktest.Expect(t, res, record.StatusFail, "podman.socket is inactive (dead): nothing listens on "+s.Socket, want)

	h = podmanHost(t, s.Socket)
	h.NewSystemd = checktest.NewSystemd(map[string]selftest.UnitState{
		"podman.socket":  {LoadState: "loaded", ActiveState: "active", SubState: "listening"},
		"podman.service": {LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "exit-code", ExecMainStatus: 125},
	}).Open
	checktest.Expect(t, run(t, h, "runtime.service", 0), record.StatusFail, "podman.service", "Result=exit-code", "125")

	d := dockertest.Shared(t)
	h = podmanHost(t, d.Socket)
	h.NewSystemd = checktest.NewSystemd(map[string]selftest.UnitState{
		"podman.socket": {LoadState: "loaded", ActiveState: "active", SubState: "listening"},
	}).Open
	checktest.Expect(t, run(t, h, "runtime.service", 0), record.StatusFail, "not as podman", "Libpod-Api-Version")
}

// podmanVersion is the service's version as `podman version` reports it.
func podmanVersion(t *testing.T, s *podmantest.Service) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := selftest.NewRunContext(selftest.NewHost("/"), config.Defaults())
	out, err := h.Run(ctx, 30*time.Second, s.Podman, "version", "--format", "{{.Client.Version}}")
	if err != nil {
		return "", fmt.Errorf("podman version: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// TestAtomicRunSkipsOnPodman: the atomic CLI drives docker only.
func TestAtomicRunSkipsOnPodman(t *testing.T) {
	s := podmantest.Start(t)
	h := podmanHost(t, s.Socket)
	h.Config.Runtime.Atomic = "sh"
	if why := needAtomic(context.Background(), h); !strings.Contains(why, "drives docker") {
		t.Errorf("needAtomic on podman = %q, want a skip naming docker", why)
	}
}

package dockerprobe_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/dockertest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/podmantest"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
)

// BenchmarkPodmanProbeVersusCLI is BenchmarkProbeVersusCLI for podman:
// alternating iteration by iteration against one private podman API
// service, the self-test's probe cycle through the service's compatible
// API (create, start, wait, read output, remove) and `podman run --rm`
// of the same image with the same sandbox flags, the podman CLI on the
// same storage (it runs the container itself, not through the service).
// It reports the medians (probe-ms, cli-ms) and their ratio. Run it with
//
//	go test -run '^$' -bench PodmanProbeVersusCLI -benchtime 30x ./selftest/dockerprobe/
func BenchmarkPodmanProbeVersusCLI(b *testing.B) {
	s := podmantest.Start(b)
	c := s.Client(b)
	c.Podman = true
	image, self := importBenchImage(b, c)

	benchVersusCLI(b, c, image, self, func(n string) *exec.Cmd {
		return exec.Command(s.Podman, append(s.GlobalArgs(), "run", "--rm",
			"--network", "none", "--read-only", "--user", dockerprobe.ProbeUser, "--cap-drop", "ALL",
			"--security-opt", "no-new-privileges", "--log-driver", "k8s-file",
			"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
			"--hostname", dockerprobe.Hostname(n), "--label", dockerprobe.LabelOwner+"="+self.String(),
			image, probe.BinaryPath, "probe", "--nonce", n)...)
	})
}

// TestPodmanProbeCycle: the probe cycle through the real podman service
// proves the sandbox (pid 1, read-only root, no network, uid 65534), and
// the import through libpod leaves nothing in the service's TMPDIR.
func TestPodmanProbeCycle(t *testing.T) {
	s := podmantest.Start(t)
	c := s.Client(t)
	c.Podman = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	self := dockerprobe.Self()
	nonce := probe.NewNonce()
	if _, err := c.ImportProbe(ctx, dockertest.ProbeBinary(t), nonce, self); err != nil {
		t.Fatal(err)
	}
	runSandboxed(t, ctx, c, nonce, self)
	if err := c.RemoveImage(ctx, dockerprobe.ImageRef(nonce), false); err != nil {
		t.Fatal(err)
	}
	if left := s.Leftovers(); len(left) > 0 {
		t.Errorf("left under %s: %v", s.Dir, left)
	}
	// Without Podman the compatible import is used: podman 4.3 leaves
	// its upload behind, which is why ImportProbe goes through libpod.
	c.Podman = false
	n2 := probe.NewNonce()
	if _, err := c.ImportProbe(ctx, dockertest.ProbeBinary(t), n2, self); err != nil {
		t.Fatal(err)
	}
	c.RemoveImage(ctx, dockerprobe.ImageRef(n2), false)
	t.Logf("after one import through the compatible API, left under %s: %v", s.Dir, s.Leftovers())
}

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
	ctx := context.Background()
	self := dockerprobe.Self()
	nonce := probe.NewNonce()
	if _, err := c.ImportProbe(ctx, dockertest.ProbeBinary(b), nonce, self); err != nil {
		b.Fatal(err)
	}
	image := dockerprobe.ImageRef(nonce)
	b.Cleanup(func() { c.RemoveImage(context.Background(), image, false) })

	var api, cli []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := probe.NewNonce()
		t0 := time.Now()
		out, err := c.RunProbe(ctx, dockerprobe.Spec{Image: image, Nonce: n, Owner: self})
		api = append(api, time.Since(t0))
		if err != nil || out.ExitCode != 0 {
			b.Fatalf("probe: %v exit %d", err, out.ExitCode)
		}
		if _, err := probe.Parse(out.Stdout); err != nil {
			b.Fatal(err)
		}

		t0 = time.Now()
		args := append(s.GlobalArgs(), "run", "--rm",
			"--network", "none", "--read-only", "--user", dockerprobe.ProbeUser, "--cap-drop", "ALL",
			"--security-opt", "no-new-privileges", "--log-driver", "k8s-file",
			"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
			"--hostname", dockerprobe.Hostname(n), "--label", dockerprobe.LabelOwner+"="+self.String(),
			image, probe.BinaryPath, "probe", "--nonce", n)
		stdout, err := exec.Command(s.Podman, args...).Output()
		cli = append(cli, time.Since(t0))
		if err != nil {
			b.Fatalf("podman run: %v", err)
		}
		if _, err := probe.Parse(stdout); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	pm, cm := median(api), median(cli)
	b.ReportMetric(ms(pm), "probe-ms")
	b.ReportMetric(ms(cm), "cli-ms")
	b.ReportMetric(float64(pm)/float64(cm), "probe/cli")
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
	out, err := c.RunProbe(ctx, dockerprobe.Spec{Image: dockerprobe.ImageRef(nonce), Nonce: nonce, Owner: self})
	if err != nil || out.ExitCode != 0 {
		t.Fatalf("RunProbe: %v exit %d (stderr %q)", err, out.ExitCode, out.Stderr)
	}
	m, err := probe.Parse(out.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if p := probe.Verify(m, probe.Want{Nonce: nonce, ReadOnly: true, NoNetwork: true, Hostname: dockerprobe.Hostname(nonce)}); p != nil {
		t.Fatalf("probe problems: %q (marker %+v)", p, m)
	}
	if m.UID != 65534 {
		t.Errorf("probe uid %d, want 65534", m.UID)
	}
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

package dockerprobe_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/dockertest"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
)

// BenchmarkProbeVersusCLI measures, in the same run and alternating
// iteration by iteration so both see the same machine load:
//
//   - the self-test's full probe cycle through the Engine API with the
//     image present (create, start, wait, read output, remove), and
//   - `docker run --rm` of the same image with the same sandbox flags.
//
// It reports the median of each (probe-ms, cli-ms) and their ratio;
// ns/op is one probe cycle plus one CLI run. Run it with e.g.
//
//	go test -run '^$' -bench ProbeVersusCLI -benchtime 30x ./selftest/dockerprobe/
func BenchmarkProbeVersusCLI(b *testing.B) {
	d := dockertest.Shared(b)
	docker := testutil.NeedCommand(b, "docker", "docker")
	c := d.Client(b)
	image, self := importBenchImage(b, c)

	benchVersusCLI(b, c, image, self, func(n string) *exec.Cmd {
		return exec.Command(docker, "--host", "unix://"+d.Socket, "run", "--rm",
			"--network", "none", "--read-only", "--user", dockerprobe.ProbeUser, "--cap-drop", "ALL",
			"--security-opt", "no-new-privileges", "--init=false", "--log-driver", "json-file",
			"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
			"--hostname", dockerprobe.Hostname(n), "--label", dockerprobe.LabelOwner+"="+self.String(),
			image, probe.BinaryPath, "probe", "--nonce", n)
	})
}

// benchVersusCLI alternates, b.N times, a probe cycle through c and the
// command cli makes for a fresh nonce, and reports their medians and
// ratio.
// importBenchImage imports the probe image both benchmarks run, removed
// when b ends.
func importBenchImage(b *testing.B, c *dockerprobe.Client) (string, dockerprobe.Owner) {
	self := dockerprobe.Self()
	nonce := probe.NewNonce()
	if _, err := c.ImportProbe(context.Background(), dockertest.ProbeBinary(b), nonce, self); err != nil {
		b.Fatal(err)
	}
	image := dockerprobe.ImageRef(nonce)
	b.Cleanup(func() { c.RemoveImage(context.Background(), image, false) })
	return image, self
}

func benchVersusCLI(b *testing.B, c *dockerprobe.Client, image string, self dockerprobe.Owner, cli func(nonce string) *exec.Cmd) {
	ctx := context.Background()
	var api, cl []time.Duration
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
		cmd := cli(n)
		t0 = time.Now()
		stdout, err := cmd.Output()
		cl = append(cl, time.Since(t0))
		if err != nil {
			b.Fatalf("%s: %v", cmd.Args[0], err)
		}
		if _, err := probe.Parse(stdout); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	pm, cm := median(api), median(cl)
	b.ReportMetric(ms(pm), "probe-ms")
	b.ReportMetric(ms(cm), "cli-ms")
	b.ReportMetric(float64(pm)/float64(cm), "probe/cli")
}

// BenchmarkImport measures making the probe image (the part of a
// runtime.run the cycle above leaves out).
func BenchmarkImport(b *testing.B) {
	d := dockertest.Shared(b)
	c := d.Client(b)
	ctx := context.Background()
	bin := dockertest.ProbeBinary(b)
	self := dockerprobe.Self()
	var took []time.Duration
	for i := 0; i < b.N; i++ {
		n := probe.NewNonce()
		t0 := time.Now()
		if _, err := c.ImportProbe(ctx, bin, n, self); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
		b.StopTimer()
		if err := c.RemoveImage(ctx, dockerprobe.ImageRef(n), false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(ms(median(took)), "import-ms")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkRuntimeRunVersusShell measures the probe part of runtime.run
// against its shell equivalent, alternating iteration by iteration:
//
//   - kept-ms: what a run does now, the kept image found by its digest
//     (EnsureKeptImage: the layer's digest, one inspect, one list) and one
//     probe cycle (create, start, wait, read output, remove);
//   - import-ms: what a run did before, import, the probe cycle, and the
//     image's removal;
//   - shell-ms: `docker info; docker import; docker run --rm; docker rmi`
//     of the same layer, each a fork and exec of the docker CLI.
//
// It reports the medians and kept/shell (issue 28's target: at most 0.4).
// Run it with e.g.
//
//	go test -run '^$' -bench RuntimeRunVersusShell -benchtime 20x ./selftest/dockerprobe/
func BenchmarkRuntimeRunVersusShell(b *testing.B) {
	d := dockertest.Shared(b)
	docker := testutil.NeedCommand(b, "docker", "docker")
	c := d.Client(b)
	ctx := context.Background()
	bin := dockertest.ProbeBinary(b)
	self := dockerprobe.Self()
	layer := filepath.Join(b.TempDir(), "layer.tar")
	f, err := os.Create(layer)
	if err != nil {
		b.Fatal(err)
	}
	if err := probe.WriteLayer(f, bin); err != nil {
		b.Fatal(err)
	}
	f.Close()
	host := "unix://" + d.Socket
	dockerCmd := func(args ...string) {
		if out, err := exec.Command(docker, append([]string{"--host", host}, args...)...).CombinedOutput(); err != nil {
			b.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	k, err := c.EnsureKeptImage(ctx, bin)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.RemoveImage(context.Background(), k.Ref, false) })

	var kept, imp, sh []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		k, err := c.EnsureKeptImage(ctx, bin)
		if err != nil || k.Imported {
			b.Fatalf("kept image: %+v %v", k, err)
		}
		runProbeOnce(b, c, k.Ref, self)
		kept = append(kept, time.Since(t0))

		n := probe.NewNonce()
		t0 = time.Now()
		if _, err := c.ImportProbe(ctx, bin, n, self); err != nil {
			b.Fatal(err)
		}
		runProbeOnce(b, c, dockerprobe.ImageRef(n), self)
		if err := c.RemoveImage(ctx, dockerprobe.ImageRef(n), false); err != nil {
			b.Fatal(err)
		}
		imp = append(imp, time.Since(t0))

		n = probe.NewNonce()
		ref := "atomic-selftest-bench:" + n
		t0 = time.Now()
		dockerCmd("info", "--format", "{{.ServerVersion}}")
		dockerCmd("import", layer, ref)
		dockerCmd("run", "--rm", "--network", "none", "--read-only", "--user", dockerprobe.ProbeUser,
			ref, probe.BinaryPath, "probe", "--nonce", n)
		dockerCmd("rmi", ref)
		sh = append(sh, time.Since(t0))
	}
	b.StopTimer()
	km, im, sm := median(kept), median(imp), median(sh)
	b.ReportMetric(ms(km), "kept-ms")
	b.ReportMetric(ms(im), "import-ms")
	b.ReportMetric(ms(sm), "shell-ms")
	b.ReportMetric(float64(km)/float64(sm), "kept/shell")
	b.ReportMetric(float64(im)/float64(sm), "import/shell")
}

// runProbeOnce runs one probe cycle of image and checks its marker.
func runProbeOnce(b *testing.B, c *dockerprobe.Client, image string, self dockerprobe.Owner) {
	b.Helper()
	n := probe.NewNonce()
	out, err := c.RunProbe(context.Background(), dockerprobe.Spec{Image: image, Nonce: n, Owner: self})
	if err != nil || out.ExitCode != 0 {
		b.Fatalf("probe: %v exit %d", err, out.ExitCode)
	}
	if _, err := probe.Parse(out.Stdout); err != nil {
		b.Fatal(err)
	}
}

package runtime

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/runtimehost"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
)

// atomicRunTimeout bounds the check. A probe cycle takes about a second on an
// idle host; the bound leaves room for a host still busy booting.
const atomicRunTimeout = 120 * time.Second

func init() {
	selftest.Register(&selftest.Check{
		ID:          "runtime.atomic-run",
		Criterion:   "C8",
		Required:    true,
		Description: "`atomic run` runs the same probe image and the probe's marker is verified",
		Timeout:     atomicRunTimeout,
		Applies:     needAtomic,
		Run:         checkAtomicRun,
	})
}

// needAtomic skips hosts without the atomic CLI, and hosts without a
// runtime.
func needAtomic(ctx context.Context, h *selftest.RunContext) string {
	if why := runtimehost.NeedRuntime(ctx, h); why != "" {
		return why
	}
	if e := runtimehost.Engine(h); e.Podman() {
		return fmt.Sprintf("the atomic CLI drives docker, and the engine here is podman (%s)", e.Why)
	}
	if _, err := exec.LookPath(h.Config.Runtime.Atomic); err != nil {
		return fmt.Sprintf("the atomic CLI is not installed here (%s: not found)", h.Config.Runtime.Atomic)
	}
	return ""
}

// RunLabel is the image's RUN label: how `atomic run` starts the image
// (Atomic/backends/_docker.py run(): the label's command, with ${NAME}
// and ${IMAGE} substituted and the user's command appended). It asks for
// the same sandbox as runtime.run, and --rm so the container goes away.
func RunLabel(owner dockerprobe.Owner, nonce string) string {
	return strings.Join([]string{
		"docker", "run", "--rm", "--name", "${NAME}",
		"--network", "none", "--read-only", "--user", dockerprobe.ProbeUser,
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--init=false",
		"--log-driver", "json-file", "--hostname", dockerprobe.Hostname(nonce),
		"--label", dockerprobe.LabelOwner + "=" + owner.String(),
		"${IMAGE}",
	}, " ")
}

// checkAtomicRun runs the probe image with `atomic run`, pointed at the
// configured socket through DOCKER_HOST, and verifies the marker.
func checkAtomicRun(ctx context.Context, t *selftest.T) {
	c := runtimehost.Connect(ctx, t, runtimehost.RecordEngine(t))
	if c == nil {
		return
	}
	self := dockerprobe.Self()
	nonce := probe.NewNonce()
	// The import's Dockerfile instructions expand ${...} themselves:
	// escape them so that atomic sees ${NAME} and ${IMAGE}.
	label := `LABEL RUN="` + strings.ReplaceAll(RunLabel(self, nonce), "$", `\$`) + `"`
	image, ok := importProbe(ctx, t, c, nonce, self, label)
	if !ok {
		return
	}
	name := dockerprobe.ContainerName(nonce)
	t.Cleanup(func() { c.RemoveContainer(context.Background(), name) })

	// atomic run [--name NAME] IMAGE [COMMAND...] (Atomic/run.py); env
	// sets DOCKER_HOST for the docker CLI atomic starts, without a shell.
	argv := []string{"env", "DOCKER_HOST=unix://" + c.Socket, t.Config.Runtime.Atomic,
		"run", "--name", name, image, probe.BinaryPath, "probe", "--nonce", nonce}
	t.Detail("argv", argv)
	start := time.Now()
	stdout, stderr, err := t.Host.Commands.Command(ctx, atomicRunTimeout, argv...)
	took := time.Since(start)
	t.Evidence("atomic run", "exit 0", fmt.Sprintf("%s in %s", exitText(err), runtimehost.Ms(took)))
	t.Detail("atomic_run_ms", runtimehost.MsValue(took))
	if err != nil {
		t.Fail("atomic run of the probe image failed: %v%s", err, tail(stderr, stdout))
		c.RemoveContainer(ctx, name)
		removeImage(ctx, t, c, image)
		return
	}
	// --rm in the RUN label removes the container (the daemon may still
	// be at it when the CLI returns); what is left is recorded and
	// removed here, so the image can go too.
	owned, lerr := c.ListOwned(ctx)
	if lerr == nil {
		if _, left := owned.Containers[name]; left {
			t.Evidence("probe container removed by --rm", "yes", "no")
			c.RemoveContainer(ctx, name)
		}
	}
	removed := removeImage(ctx, t, c, image)
	if !verifyMarker(t, stdout, nonce) || !removed {
		return
	}
	t.Pass("atomic run ran the probe image on %s as pid 1 with a read-only root and no network in %s", c.Socket, runtimehost.Ms(took))
}

func exitText(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

package runtime

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/runtimehost"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// runTimeout bounds the check. A probe cycle takes about a second on an
// idle host; the bound leaves room for a host still busy booting.
const runTimeout = 120 * time.Second

func init() {
	selftest.Register(&selftest.Check{
		ID:          "runtime.run",
		Criterion:   "C8",
		Required:    true,
		Description: "a probe container made offline from this binary runs through the Engine API: pid 1, read-only root, no network, removed afterwards",
		Timeout:     runTimeout,
		Applies:     runtimehost.NeedRuntime,
		Run:         checkRuntimeRun,
	})
}

// checkRuntimeRun proves the runtime runs containers, offline: it removes what
// killed runs left, finds the probe image of this very binary kept from an
// earlier run (or imports it), runs it sandboxed, verifies the marker, and
// removes the container.
func checkRuntimeRun(ctx context.Context, t *selftest.T) {
	e := runtimehost.RecordEngine(t)
	c := runtimehost.Connect(ctx, t, e)
	if c == nil {
		return
	}
	self := dockerprobe.Self()
	// Swept before and after the probe: the daemon may still finish a
	// create that a killed run sent just before it died, after the first
	// sweep listed the containers (docker 20.10 re-registers a container
	// whose create raced with its forced removal).
	var swept []string
	defer func() { cleanLeftovers(ctx, t, c, self, swept) }()
	swept = cleanLeftovers(ctx, t, c, self, nil)

	nonce := probe.NewNonce()
	image, ok := keptProbe(ctx, t, c)
	if !ok {
		return
	}
	name := dockerprobe.ContainerName(nonce)
	t.Cleanup(func() { c.RemoveContainer(context.Background(), name) })

	out, err := c.RunProbe(ctx, dockerprobe.Spec{Image: image, Nonce: nonce, Owner: self})
	tm := out.Timings
	t.Detail("timings_ms", map[string]float64{
		"create": runtimehost.MsValue(tm.Create), "start": runtimehost.MsValue(tm.Start), "exit": runtimehost.MsValue(tm.Exit), "logs": runtimehost.MsValue(tm.Logs), "remove": runtimehost.MsValue(tm.Remove),
	})
	t.Evidence("probe container create, start, exit", "", fmt.Sprintf("%s, %s, %s", runtimehost.Ms(tm.Create), runtimehost.Ms(tm.Start), runtimehost.Ms(tm.Exit)))
	if len(out.Warnings) > 0 {
		t.Detail("create_warnings", out.Warnings)
	}
	if err != nil {
		t.Fail("%v%s", err, tail(out.Stderr))
		return
	}
	t.Evidence("probe exit status", "0", fmt.Sprint(out.ExitCode))
	if out.ExitCode != 0 {
		t.Fail("the probe container exited with status %d%s", out.ExitCode, tail(out.Stderr, out.Stdout))
		return
	}
	if !verifyMarker(t, out.Stdout, nonce) {
		return
	}
	t.Pass("a probe container ran on %s (%s) as pid 1 with a read-only root and no network, and was removed (create %s, start %s, exit %s)",
		e.Name, c.Socket, runtimehost.Ms(tm.Create), runtimehost.Ms(tm.Start), runtimehost.Ms(tm.Exit))
}

// cleanLeftovers removes what killed runs left and records it, with what
// an earlier sweep of this check removed. A failure to remove is recorded
// but does not decide the check: the probe proves or disproves the
// runtime on its own.
func cleanLeftovers(ctx context.Context, t *selftest.T, c *dockerprobe.Client, self dockerprobe.Owner, before []string) []string {
	removed, err := c.RemoveLeftovers(ctx, self)
	all := append(before, removed...)
	if len(removed) > 0 {
		t.Evidence("leftovers of earlier runs removed", "", strings.Join(all, ", "))
		t.Detail("leftovers_removed", all)
	}
	if err != nil {
		t.Evidence("removing leftovers of earlier runs", "done", err.Error())
	}
	return all
}

// keptProbe finds the probe image of this binary that an earlier run kept
// on the daemon, verified by its layer's digest, or imports it
// (dockerprobe.EnsureKeptImage: one labelled image at most stays, which
// spares every later run the import and the removal). It fails the
// check when the runtime refuses, and errors when this tool cannot read
// its own binary.
func keptProbe(ctx context.Context, t *selftest.T, c *dockerprobe.Client) (string, bool) {
	bin, err := runtimehost.ProbeBinary(t.RunContext)
	if err != nil {
		t.Error("%v", err)
		return "", false
	}
	k, err := c.EnsureKeptImage(ctx, bin)
	if err != nil {
		imageFailed(t, "probe image", bin, err)
		return "", false
	}
	if k.Imported {
		t.Evidence("probe image", "an image", fmt.Sprintf("%s %s imported in %s, kept for the next runs", k.Ref, record.Short(k.ID), runtimehost.Ms(k.Import)))
		t.Detail("import_ms", runtimehost.MsValue(k.Import))
	} else {
		t.Evidence("probe image", "an image", fmt.Sprintf("%s %s kept from an earlier run, its only layer %s", k.Ref, record.Short(k.ID), record.Short(k.Layer)))
	}
	if len(k.Removed) > 0 {
		t.Detail("kept_images_removed", k.Removed)
	}
	return k.Ref, true
}

// importProbe makes the probe image; it fails the check when the runtime
// refuses, and errors when this tool cannot read its own binary.
func importProbe(ctx context.Context, t *selftest.T, c *dockerprobe.Client, nonce string, self dockerprobe.Owner, changes ...string) (string, bool) {
	bin, err := runtimehost.ProbeBinary(t.RunContext)
	if err != nil {
		t.Error("%v", err)
		return "", false
	}
	image := dockerprobe.ImageRef(nonce)
	// Registered before the import so that an import cut short by the
	// timeout, which the daemon may still finish, is removed too.
	t.Cleanup(func() { c.RemoveImage(context.Background(), image, false) })
	start := time.Now()
	id, err := c.ImportProbe(ctx, bin, nonce, self, changes...)
	took := time.Since(start)
	if err != nil {
		imageFailed(t, "probe image import", bin, err)
		return "", false
	}
	t.Evidence("probe image import", "an image", fmt.Sprintf("%s %s in %s", image, record.Short(id), runtimehost.Ms(took)))
	t.Detail("import_ms", runtimehost.MsValue(took))
	return image, true
}

// imageFailed records a probe image that could not be made from bin: an
// error when this tool could not read its own binary, else the runtime's
// failure, with its answer as the evidence named what.
func imageFailed(t *selftest.T, what, bin string, err error) {
	if dockerprobe.KindOf(err) == dockerprobe.KindLocal {
		t.Error("cannot make the probe image from %s: %v", bin, err)
		return
	}
	t.Evidence(what, "an image", err.Error())
	t.Fail("the runtime could not create the probe image: %v", err)
}

// removeImage removes the probe image and fails the check when that is
// impossible: a self-test must not leave images behind.
func removeImage(ctx context.Context, t *selftest.T, c *dockerprobe.Client, image string) bool {
	if err := c.RemoveImage(ctx, image, false); err != nil {
		t.Evidence("probe image removed", "yes", err.Error())
		t.Fail("the probe image could not be removed: %v", err)
		return false
	}
	return true
}

// verifyMarker parses and verifies the probe's marker, failing the check
// with every difference.
func verifyMarker(t *selftest.T, stdout []byte, nonce string) bool {
	m, err := probe.Parse(stdout)
	if err != nil {
		t.Fail("%v", err)
		return false
	}
	t.Evidence("probe pid", "1", fmt.Sprint(m.PID))
	t.Evidence("probe root read-only", "true", fmt.Sprint(m.RootReadOnly))
	t.Evidence("probe network interfaces", "none but loopback", orNone(m.Interfaces))
	t.Evidence("probe host name", dockerprobe.Hostname(nonce), m.Hostname)
	t.Detail("marker", m)
	if p := probe.Verify(m, probe.Want{Nonce: nonce, ReadOnly: true, NoNetwork: true, Hostname: dockerprobe.Hostname(nonce)}); len(p) > 0 {
		t.Fail("the probe container was not sandboxed as asked: %s", strings.Join(p, "; "))
		return false
	}
	return true
}

// tail formats the last part of a probe's output for a message.
func tail(outs ...[]byte) string {
	var s string
	for _, o := range outs {
		if v := strings.TrimSpace(string(o)); v != "" {
			s = v
			break
		}
	}
	if s == "" {
		return ""
	}
	if len(s) > 300 {
		s = "…" + s[len(s)-300:]
	}
	return fmt.Sprintf("; its output: %q", s)
}

func orNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

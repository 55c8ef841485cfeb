package dockerprobe_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/dockertest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/podmantest"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
)

// The kept probe image on the real docker daemon: imported once, then
// found by its digest; a tag that names other content is imported over;
// another binary's kept image is removed, so one stays; a probe runs from
// it.
func TestKeptImage(t *testing.T) {
	d := dockertest.Shared(t)
	keptImageCases(t, d.Client(t))
}

// TestKeptImage on a private podman API service.
func TestPodmanKeptImage(t *testing.T) {
	s := podmantest.Start(t)
	c := s.Client(t)
	c.Podman = true
	keptImageCases(t, c)
}

func keptImageCases(t *testing.T, c *dockerprobe.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := dockertest.ProbeBinary(t)
	// Another binary: the same file plus one byte, so its layer differs.
	other := filepath.Join(t.TempDir(), "other")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, append(b, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	layer, err := dockerprobe.LayerDigest(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeKept(t, c) })
	removeKept(t, c)

	first, err := c.EnsureKeptImage(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Imported || first.Layer != layer || first.Ref != dockerprobe.KeptImageRef(layer) {
		t.Fatalf("first run: %+v, want an import of layer %s", first, layer)
	}
	again, err := c.EnsureKeptImage(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	if again.Imported || again.ID != first.ID {
		t.Errorf("second run: %+v, want the kept image %s without an import", again, first.ID)
	}

	// A probe runs from the kept image.
	self := dockerprobe.Self()
	n := probe.NewNonce()
	out, err := c.RunProbe(ctx, dockerprobe.Spec{Image: again.Ref, Nonce: n, Owner: self})
	if err != nil || out.ExitCode != 0 {
		t.Fatalf("probe from the kept image: %v, exit %d, stderr %s", err, out.ExitCode, out.Stderr)
	}
	if m, err := probe.Parse(out.Stdout); err != nil || m.Nonce != n {
		t.Errorf("probe marker %+v (%v), want nonce %s", m, err, n)
	}

	// Another binary's kept image is removed by the next run of this
	// one: one kept image at most.
	o, err := c.EnsureKeptImage(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Imported || o.Layer == layer || len(o.Removed) != 1 {
		t.Errorf("other binary: %+v, want its own import removing the first", o)
	}
	back, err := c.EnsureKeptImage(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Imported || len(back.Removed) != 1 {
		t.Errorf("back to the first binary: %+v, want an import removing the other's image", back)
	}
	if ids := keptIDs(t, c); len(ids) != 1 || ids[0] != back.ID {
		t.Errorf("kept images %v, want only %s", ids, back.ID)
	}

	// The tag naming other content (here: the other binary's layer with
	// this binary's label forged) is not trusted: imported over.
	removeKept(t, c)
	nonce := "layer-" + layer[len("sha256:"):][:20]
	if dockerprobe.ImageRef(nonce) != back.Ref {
		t.Fatalf("forged ref %s, want %s", dockerprobe.ImageRef(nonce), back.Ref)
	}
	if _, err := c.ImportProbe(ctx, other, nonce, self, "LABEL "+dockerprobe.LabelProbeLayer+"="+layer); err != nil {
		t.Fatal(err)
	}
	forged, err := c.EnsureKeptImage(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	if !forged.Imported || forged.Layer != layer {
		t.Errorf("over a forged tag: %+v, want a new import of %s", forged, layer)
	}
}

// keptIDs lists the ids of the images labelled as kept probe images.
func keptIDs(t *testing.T, c *dockerprobe.Client) []string {
	t.Helper()
	api, err := c.API(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	il, err := api.ImageList(context.Background(), client.ImageListOptions{All: true, Filters: client.Filters{}.Add("label", dockerprobe.LabelProbeLayer)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, im := range il.Items {
		ids = append(ids, im.ID)
	}
	return ids
}

// removeKept removes every kept probe image (and what the forged import
// left, owned by this process).
func removeKept(t *testing.T, c *dockerprobe.Client) {
	t.Helper()
	for _, id := range keptIDs(t, c) {
		if err := c.RemoveImage(context.Background(), id, true); err != nil {
			t.Error(err)
		}
	}
}

package dockerprobe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// LabelProbeLayer marks the kept probe image; its value is the digest of
// the probe layer (sha256:… of the uncompressed tar probe.WriteLayer
// writes), which the daemon records as the image's only layer.
const LabelProbeLayer = "io.atomic-selftest.probe-layer"

// KeptImageRef is the reference of the kept probe image of a layer
// digest: the probe repository, tagged with the digest's first 20 hex
// digits.
func KeptImageRef(layer string) string {
	h := strings.TrimPrefix(layer, "sha256:")
	if len(h) > 20 {
		h = h[:20]
	}
	return ImageRepo + ":layer-" + h
}

// LayerDigest is the digest of the probe layer of binary, as the daemon
// records it for the imported image (its diff id).
func LayerDigest(binary string) (string, error) {
	h := sha256.New()
	if err := probe.WriteLayer(h, binary); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// KeptImage is the probe image of one binary, kept on the daemon between
// runs.
type KeptImage struct {
	Ref, ID, Layer string
	// Imported is set when this call made the image (no kept image of
	// this binary was there, or it did not verify).
	Imported bool
	// Import is how long the import took.
	Import time.Duration
	// Removed are the kept images of other binaries this call removed.
	Removed []string
}

// EnsureKeptImage returns the probe image of binary, importing it only
// when the daemon does not already hold it. Importing the one-file layer
// and removing the image again took about as long as the probe container
// itself on every run; kept, a run reads one inspect. What stays on the
// host is labelled and bounded: one image, the repository ImageRepo,
// label LabelProbeLayer naming the layer's digest, and it is used only
// when the daemon's record of its only layer has that digest (a tag that
// names anything else is imported over). The kept images of other
// binaries (an older atomic-selftest) are removed here, so at most one
// stays; one still in use by another run's container stays until the
// next run.
func (c *Client) EnsureKeptImage(ctx context.Context, binary string) (*KeptImage, error) {
	layer, err := LayerDigest(binary)
	if err != nil {
		return nil, &Error{Kind: KindLocal, Err: fmt.Errorf("making the probe layer: %w", err)}
	}
	k := &KeptImage{Ref: KeptImageRef(layer), Layer: layer}
	if err := c.negotiate(ctx); err != nil {
		return nil, c.explain("looking for the kept probe image", ctx, 0, err)
	}
	id, ok, err := c.verifyKept(ctx, k.Ref, layer)
	if err != nil {
		return nil, err
	}
	if !ok {
		t0 := time.Now()
		if _, err := c.importLayer(ctx, binary, k.Ref, []string{fmt.Sprintf("LABEL %s=%s", LabelProbeLayer, layer)}); err != nil {
			return nil, err
		}
		k.Import, k.Imported = time.Since(t0), true
		if id, ok, err = c.verifyKept(ctx, k.Ref, layer); err != nil {
			return nil, err
		}
		if !ok {
			return nil, &Error{Kind: KindDaemon, Err: fmt.Errorf("the imported probe image %s does not hold the probe layer %s as its only layer", k.Ref, record.Short(layer))}
		}
	}
	k.ID = id
	k.Removed, err = c.removeOtherKept(ctx, id)
	return k, err
}

// verifyKept inspects ref: ok when it exists, carries the label for
// layer, and its only layer is layer.
func (c *Client) verifyKept(ctx context.Context, ref, layer string) (id string, ok bool, err error) {
	im, err := c.api.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, c.explain("inspecting the kept probe image "+ref, ctx, 0, err)
	}
	var label string
	if im.Config != nil {
		label = im.Config.Labels[LabelProbeLayer]
	}
	return im.ID, label == layer && slices.Equal(im.RootFS.Layers, []string{layer}), nil
}

// removeOtherKept removes every image labelled LabelProbeLayer but keep.
// An image a container still uses (another run's probe) is left for a
// later run: the daemon refuses with a conflict.
func (c *Client) removeOtherKept(ctx context.Context, keep string) ([]string, error) {
	il, err := c.api.ImageList(ctx, client.ImageListOptions{All: true, Filters: client.Filters{}.Add("label", LabelProbeLayer)})
	if err != nil {
		return nil, c.explain("listing kept probe images", ctx, 0, err)
	}
	var removed []string
	var errs []error
	for _, im := range il.Items {
		if im.ID == keep {
			continue
		}
		if err := c.RemoveImage(ctx, im.ID, false); err != nil {
			if !cerrdefs.IsConflict(err) {
				errs = append(errs, err)
			}
			continue
		}
		removed = append(removed, "image "+record.Short(im.ID))
	}
	return removed, errors.Join(errs...)
}

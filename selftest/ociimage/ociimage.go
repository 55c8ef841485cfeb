// Package ociimage owns the container images the system container probe
// uses: it writes a one-layer image in the OCI image layout
// (github.com/opencontainers/image-spec, image-layout.md), copies images
// between containers/image transports (go.podman.io/image/v5: "oci:" layouts
// and "docker://" registries) verifying every blob against its digest, and
// unpacks an image's layers into a runc bundle's rootfs.
//
// It deliberately does not use containers/image's copy package: that
// package imports the signature package, which needs either cgo (gpgme) or
// the containers_image_openpgp build tag. The transports alone build with
// CGO_ENABLED=0 and no tags, and a probe image has no signatures to check;
// what copy.Image would add for us is digest verification, which Copy does
// itself.
package ociimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/blobinfocache/none"
	"go.podman.io/image/v5/types"
)

// ParseReference parses a reference in the transport:name form of
// skopeo(1): "oci:DIR[:TAG]" for an OCI layout, "docker://NAME[:TAG]" for a
// registry. Only these two transports are built in.
func ParseReference(s string) (types.ImageReference, error) {
	switch {
	case strings.HasPrefix(s, "oci:"):
		ref, err := layout.ParseReference(strings.TrimPrefix(s, "oci:"))
		if err != nil {
			return nil, fmt.Errorf("image reference %q: %w", s, err)
		}
		return ref, nil
	case strings.HasPrefix(s, "docker:"):
		ref, err := docker.ParseReference(strings.TrimPrefix(s, "docker:"))
		if err != nil {
			return nil, fmt.Errorf("image reference %q: %w", s, err)
		}
		return ref, nil
	}
	return nil, fmt.Errorf("image reference %q: want oci:DIR[:TAG] or docker://NAME[:TAG]", s)
}

// Config is what the probe image's configuration says about its process.
type Config struct {
	Entrypoint []string
	User       string
}

// WriteLayout writes an OCI image layout in dir (created if missing) that
// holds one linux/amd64-or-current image tagged tag, whose only layer is
// the uncompressed tar that layer writes. It returns the manifest digest.
func WriteLayout(dir, tag string, layer func(io.Writer) error, cfg Config) (digest.Digest, error) {
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		return "", fmt.Errorf("creating OCI layout %s: %w", dir, err)
	}
	layerDesc, diffID, err := writeBlobFunc(blobs, imgspecv1.MediaTypeImageLayer, layer)
	if err != nil {
		return "", fmt.Errorf("writing the layer into %s: %w", dir, err)
	}
	epoch := time.Unix(0, 0).UTC()
	img := imgspecv1.Image{
		Created:  &epoch,
		Platform: imgspecv1.Platform{Architecture: goarch(), OS: "linux"},
		Config:   imgspecv1.ImageConfig{Entrypoint: cfg.Entrypoint, User: cfg.User},
		RootFS:   imgspecv1.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	}
	configDesc, err := writeJSONBlob(blobs, imgspecv1.MediaTypeImageConfig, img)
	if err != nil {
		return "", fmt.Errorf("writing the image config into %s: %w", dir, err)
	}
	m := imgspecv1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: imgspecv1.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    []imgspecv1.Descriptor{layerDesc},
	}
	manifestDesc, err := writeJSONBlob(blobs, imgspecv1.MediaTypeImageManifest, m)
	if err != nil {
		return "", fmt.Errorf("writing the manifest into %s: %w", dir, err)
	}
	manifestDesc.Annotations = map[string]string{imgspecv1.AnnotationRefName: tag}
	idx := imgspecv1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: imgspecv1.MediaTypeImageIndex,
		Manifests: []imgspecv1.Descriptor{manifestDesc},
	}
	if err := writeJSONFile(filepath.Join(dir, imgspecv1.ImageLayoutFile), imgspecv1.ImageLayout{Version: imgspecv1.ImageLayoutVersion}); err != nil {
		return "", err
	}
	if err := writeJSONFile(filepath.Join(dir, "index.json"), idx); err != nil {
		return "", err
	}
	return manifestDesc.Digest, nil
}

// writeBlobFunc streams what write produces into a blob named by its
// digest; the layer is uncompressed, so its digest is also its diff id.
func writeBlobFunc(blobs, mediaType string, write func(io.Writer) error) (imgspecv1.Descriptor, digest.Digest, error) {
	tmp, err := os.CreateTemp(blobs, ".tmp-blob-")
	if err != nil {
		return imgspecv1.Descriptor{}, "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, h)}
	err = write(cw)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return imgspecv1.Descriptor{}, "", err
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil)))
	if err := os.Rename(tmp.Name(), filepath.Join(blobs, d.Encoded())); err != nil {
		return imgspecv1.Descriptor{}, "", err
	}
	return imgspecv1.Descriptor{MediaType: mediaType, Digest: d, Size: cw.n}, d, nil
}

func writeJSONBlob(blobs, mediaType string, v any) (imgspecv1.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return imgspecv1.Descriptor{}, err
	}
	d, _, err := writeBlobFunc(blobs, mediaType, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	return d, err
}

func writeJSONFile(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// maxManifest bounds a manifest or config read from any source.
const maxManifest = 4 << 20

// Copy copies the image src names to dst: the manifest, the config and
// every layer, each verified against the digest and size the manifest
// gives. Only single images (OCI or Docker schema 2 manifests) are copied;
// a manifest list is refused. It returns the manifest's digest.
func Copy(ctx context.Context, sys *types.SystemContext, src, dst types.ImageReference) (digest.Digest, error) {
	s, err := src.NewImageSource(ctx, sys)
	if err != nil {
		return "", fmt.Errorf("opening source %s: %w", transportName(src), err)
	}
	defer s.Close()
	raw, mt, m, err := readManifest(ctx, s)
	if err != nil {
		return "", err
	}
	d, err := dst.NewImageDestination(ctx, sys)
	if err != nil {
		return "", fmt.Errorf("opening destination %s: %w", transportName(dst), err)
	}
	defer d.Close()
	if !supports(d.SupportedManifestMIMETypes(), mt) {
		return "", fmt.Errorf("destination %s does not accept manifests of type %s", transportName(dst), mt)
	}
	cache := none.NoCache
	blobs := []types.BlobInfo{m.ConfigInfo()}
	for _, l := range m.LayerInfos() {
		blobs = append(blobs, l.BlobInfo)
	}
	for i, bi := range blobs {
		if err := copyBlob(ctx, s, d, bi, cache, i == 0); err != nil {
			return "", fmt.Errorf("copying %s to %s: %w", transportName(src), transportName(dst), err)
		}
	}
	if err := d.PutManifest(ctx, raw, nil); err != nil {
		return "", fmt.Errorf("writing the manifest to %s: %w", transportName(dst), err)
	}
	if err := d.Commit(ctx, image.UnparsedInstance(s, nil)); err != nil {
		return "", fmt.Errorf("committing %s: %w", transportName(dst), err)
	}
	return manifest.Digest(raw)
}

func supports(list []string, mt string) bool {
	if len(list) == 0 {
		return true // nil means "anything" (types.ImageDestination)
	}
	for _, l := range list {
		if l == mt {
			return true
		}
	}
	return false
}

func transportName(r types.ImageReference) string {
	return r.Transport().Name() + ":" + r.StringWithinTransport()
}

func readManifest(ctx context.Context, s types.ImageSource) ([]byte, string, manifest.Manifest, error) {
	raw, mt, err := s.GetManifest(ctx, nil)
	if err != nil {
		return nil, "", nil, fmt.Errorf("reading the manifest of %s: %w", transportName(s.Reference()), err)
	}
	if len(raw) > maxManifest {
		return nil, "", nil, fmt.Errorf("the manifest of %s is %d bytes, more than the %d allowed", transportName(s.Reference()), len(raw), maxManifest)
	}
	if mt == "" {
		mt = manifest.GuessMIMEType(raw)
	}
	mt = manifest.NormalizedMIMEType(mt)
	if manifest.MIMETypeIsMultiImage(mt) {
		return nil, "", nil, fmt.Errorf("%s is a manifest list (%s); only single images are handled", transportName(s.Reference()), mt)
	}
	m, err := manifest.FromBlob(raw, mt)
	if err != nil {
		return nil, "", nil, fmt.Errorf("parsing the manifest of %s: %w", transportName(s.Reference()), err)
	}
	return raw, mt, m, nil
}

// ErrDigest is wrapped by errors about blobs whose content does not match
// the digest that names them: a corrupt or tampered image.
var ErrDigest = errors.New("blob digest mismatch")

// verifyReader checks, at EOF, that what was read has the expected digest
// and size.
type verifyReader struct {
	r        io.Reader
	v        digest.Verifier
	want     digest.Digest
	size     int64
	n        int64
	verified bool
}

func newVerifyReader(r io.Reader, bi types.BlobInfo) (*verifyReader, error) {
	if err := bi.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("blob digest %q: %w", bi.Digest, err)
	}
	return &verifyReader{r: r, v: bi.Digest.Verifier(), want: bi.Digest, size: bi.Size}, nil
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.v.Write(p[:n])
	if v.size >= 0 && v.n > v.size {
		return n, fmt.Errorf("blob %s: %w: more than the %d bytes the manifest gives", v.want, ErrDigest, v.size)
	}
	if err == io.EOF {
		if v.size >= 0 && v.n != v.size {
			return n, fmt.Errorf("blob %s: %w: %d bytes, the manifest gives %d", v.want, ErrDigest, v.n, v.size)
		}
		if !v.v.Verified() {
			return n, fmt.Errorf("blob %s: %w: its content has another digest", v.want, ErrDigest)
		}
		v.verified = true
	}
	return n, err
}

func copyBlob(ctx context.Context, s types.ImageSource, d types.ImageDestination, bi types.BlobInfo, cache types.BlobInfoCache, isConfig bool) error {
	rc, _, err := s.GetBlob(ctx, bi, cache)
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", bi.Digest, err)
	}
	defer rc.Close()
	vr, err := newVerifyReader(rc, bi)
	if err != nil {
		return err
	}
	// Some destinations read only up to the size; make sure all of it is
	// read and verified before the blob counts as written.
	if _, err := d.PutBlob(ctx, vr, bi, cache, isConfig); err != nil {
		return fmt.Errorf("writing blob %s: %w", bi.Digest, err)
	}
	if !vr.verified {
		if _, err := io.Copy(io.Discard, vr); err != nil {
			return err
		}
		if !vr.verified {
			return fmt.Errorf("blob %s: %w: not read to the end", bi.Digest, ErrDigest)
		}
	}
	return nil
}

// Image is an opened image: its manifest and configuration.
type Image struct {
	Digest digest.Digest
	Config imgspecv1.Image
	// RawManifest and RawConfig are the manifest and config blobs as
	// stored, for stores that keep them verbatim.
	RawManifest []byte
	RawConfig   []byte
	src         types.ImageSource
	m           manifest.Manifest
}

// ConfigInfo is the config blob's descriptor.
func (i *Image) ConfigInfo() types.BlobInfo { return i.m.ConfigInfo() }

// Layers are the layers' descriptors, base first.
func (i *Image) Layers() []types.BlobInfo {
	var out []types.BlobInfo
	for _, l := range i.m.LayerInfos() {
		out = append(out, l.BlobInfo)
	}
	return out
}

// Open reads the manifest and configuration of ref. Close it after use.
func Open(ctx context.Context, sys *types.SystemContext, ref types.ImageReference) (*Image, error) {
	s, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", transportName(ref), err)
	}
	raw, _, m, err := readManifest(ctx, s)
	if err != nil {
		s.Close()
		return nil, err
	}
	img := &Image{src: s, m: m, RawManifest: raw}
	img.Digest, err = manifest.Digest(raw)
	if err != nil {
		s.Close()
		return nil, err
	}
	ci := m.ConfigInfo()
	rc, _, err := s.GetBlob(ctx, ci, none.NoCache)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("reading the config of %s: %w", transportName(ref), err)
	}
	defer rc.Close()
	vr, err := newVerifyReader(io.LimitReader(rc, maxManifest+1), ci)
	if err != nil {
		s.Close()
		return nil, err
	}
	b, err := io.ReadAll(vr)
	if err == nil && !vr.verified {
		err = fmt.Errorf("config %s: %w", ci.Digest, ErrDigest)
	}
	if err == nil {
		img.RawConfig = b
		err = json.Unmarshal(b, &img.Config)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("the config of %s: %w", transportName(ref), err)
	}
	return img, nil
}

// Close releases the image source.
func (i *Image) Close() error { return i.src.Close() }

// Unpack extracts the image's layers, in order, into rootfs (which must
// exist and be empty), verifying each layer's digest. maxBytes bounds the
// total unpacked size.
func (i *Image) Unpack(ctx context.Context, rootfs string, maxBytes int64) error {
	budget := maxBytes
	for n := range i.m.LayerInfos() {
		if err := i.UnpackLayer(ctx, n, rootfs, &budget); err != nil {
			return err
		}
	}
	return nil
}

// UnpackLayer extracts layer n over dir, verifying its digest; budget is
// the number of bytes still allowed and is decreased.
func (i *Image) UnpackLayer(ctx context.Context, n int, dir string, budget *int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l := i.m.LayerInfos()[n]
	rc, _, err := i.src.GetBlob(ctx, l.BlobInfo, none.NoCache)
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", l.Digest, err)
	}
	defer rc.Close()
	vr, err := newVerifyReader(rc, l.BlobInfo)
	if err == nil {
		err = untar(vr, dir, budget)
		if err != nil && !errors.Is(err, ErrDigest) {
			// A tampered layer usually breaks the tar first; the digest
			// says more precisely what is wrong, so prefer it.
			if _, derr := io.Copy(io.Discard, vr); errors.Is(derr, ErrDigest) {
				err = derr
			}
		}
	}
	if err == nil && !vr.verified {
		// Read any padding after the tar's end so the digest is checked.
		_, err = io.Copy(io.Discard, vr)
		if err == nil && !vr.verified {
			err = fmt.Errorf("%w: layer not read to its end", ErrDigest)
		}
	}
	if err != nil {
		return fmt.Errorf("unpacking layer %s: %w", l.Digest, err)
	}
	return nil
}

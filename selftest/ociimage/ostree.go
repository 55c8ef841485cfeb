package ociimage

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/syscontainerfmt"
)

// ostreeTimeout bounds one ostree command.
const ostreeTimeout = 2 * time.Minute

// OstreeStore keeps images in an OSTree repository the way the atomic CLI
// finds them: it pulls with skopeo, whose ostree transport
// (containers/image ostree/ostree_dest.go, removed from containers/image
// since) commits each layer's files on the branch ociimage/<layer digest
// hex> (metadata docker.size, docker.uncompressed_size,
// docker.uncompressed_digest), the config blob as the file "content" on
// ociimage/<config digest hex> (docker.size), and the image on
// ociimage/<encoded name:tag> with the manifest in the metadata
// (docker.manifest, docker.digest, signatures). The transport needs cgo
// and libostree; this uses the host's ostree command instead. It also
// keeps the manifest as /manifest.json in the image's tree, which is how
// it reads it back (ostree cat) without parsing GVariant text.
type OstreeStore struct {
	// Host runs the ostree command; Repo is the host path of the
	// repository.
	Host *selftest.Host
	Repo string
	// MaxUnpack bounds what an image's layers may unpack to.
	MaxUnpack int64
}

func (s OstreeStore) run(ctx context.Context, args ...string) ([]byte, error) {
	// outside the door: the ostree command takes a path: Path is the
	// root-prefixed one.
	argv := append([]string{"ostree", args[0], "--repo=" + s.Host.Path(s.Repo)}, args[1:]...)
	return s.Host.Run(ctx, ostreeTimeout, argv...)
}

// commit commits dir on branch with string metadata. Like the transport
// it gives layers no parent.
func (s OstreeStore) commit(ctx context.Context, branch, dir string, meta map[string]string) error {
	args := []string{"commit", "--branch=" + branch, "--tree=dir=" + dir, "--no-xattrs",
		"--subject=atomic-selftest system container probe"}
	for k, v := range meta {
		args = append(args, "--add-metadata-string="+k+"="+v)
	}
	_, err := s.run(ctx, args...)
	return err
}

// ImportImage stores im as name. The image's branch is written first, so
// a run killed midway leaves a branch that names (through its manifest)
// every layer branch the sweep must delete.
func (s OstreeStore) ImportImage(ctx context.Context, im *Image, name, tmp string) error {
	mdir := filepath.Join(tmp, "manifest")
	if err := os.MkdirAll(mdir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(mdir, "manifest.json"), im.RawManifest, 0o600); err != nil {
		return err
	}
	branch := syscontainerfmt.OciImagePrefix + syscontainerfmt.EncodeOstreeRef(name)
	if err := s.commit(ctx, branch, mdir, map[string]string{
		"docker.manifest": string(im.RawManifest), "docker.digest": im.Digest.String(), "signatures": "0",
	}); err != nil {
		return fmt.Errorf("committing the image %s: %w", branch, err)
	}
	ci := im.ConfigInfo()
	cdir := filepath.Join(tmp, "config")
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cdir, "content"), im.RawConfig, 0o600); err != nil {
		return err
	}
	if err := s.commit(ctx, layerBranch(ci.Digest), cdir, map[string]string{
		"docker.size": fmt.Sprint(len(im.RawConfig)),
	}); err != nil {
		return fmt.Errorf("committing the image config: %w", err)
	}
	budget := s.MaxUnpack
	for n, l := range im.Layers() {
		ldir := filepath.Join(tmp, "layer-"+l.Digest.Encoded())
		if err := os.MkdirAll(ldir, 0o755); err != nil {
			return err
		}
		before := budget
		if err := im.UnpackLayer(ctx, n, ldir, &budget); err != nil {
			return err
		}
		meta := map[string]string{"docker.size": fmt.Sprint(l.Size), "docker.uncompressed_size": fmt.Sprint(before - budget)}
		if n < len(im.Config.RootFS.DiffIDs) {
			meta["docker.uncompressed_digest"] = im.Config.RootFS.DiffIDs[n].String()
		}
		if err := s.commit(ctx, layerBranch(l.Digest), ldir, meta); err != nil {
			return fmt.Errorf("committing layer %s: %w", l.Digest, err)
		}
		if err := os.RemoveAll(ldir); err != nil {
			return err
		}
	}
	return nil
}

// StoredManifest reads the manifest of the image stored as name.
func (s OstreeStore) StoredManifest(ctx context.Context, name string) (*imgspecv1.Manifest, error) {
	branch := syscontainerfmt.OciImagePrefix + syscontainerfmt.EncodeOstreeRef(name)
	b, err := s.run(ctx, "cat", branch, "/manifest.json")
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of %s: %w", branch, err)
	}
	var m imgspecv1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the manifest of %s: %w", branch, err)
	}
	return &m, nil
}

// Checkout checks the image's layers out of the repository over rootfs,
// base first, as the atomic CLI composes a system container's rootfs.
func (s OstreeStore) Checkout(ctx context.Context, name, rootfs string) error {
	m, err := s.StoredManifest(ctx, name)
	if err != nil {
		return err
	}
	for _, l := range m.Layers {
		if _, err := s.run(ctx, "checkout", "--union", layerBranch(l.Digest), rootfs); err != nil {
			return fmt.Errorf("checking out layer %s: %w", l.Digest, err)
		}
	}
	return nil
}

// Remove deletes the image's branches: its layers', its config's and its
// own. The objects stay until ostree next prunes the repository (the
// probe's are the same on every run of one build), since pruning is the
// host's business.
func (s OstreeStore) Remove(ctx context.Context, name string) error {
	branch := syscontainerfmt.OciImagePrefix + syscontainerfmt.EncodeOstreeRef(name)
	if !s.Has(branch) {
		return nil
	}
	var refs []string
	if m, err := s.StoredManifest(ctx, name); err == nil {
		refs = append(refs, layerBranch(m.Config.Digest))
		for _, l := range m.Layers {
			refs = append(refs, layerBranch(l.Digest))
		}
	}
	for _, r := range append(refs, branch) {
		if _, err := s.run(ctx, "refs", "--delete", r); err != nil {
			return fmt.Errorf("deleting %s: %w", r, err)
		}
	}
	return nil
}

// Has reports whether the repository has a branch (loose refs; ostree
// keeps no packed refs).
func (s OstreeStore) Has(branch string) bool {
	return s.Host.Exists(path.Join(s.Repo, "refs/heads", branch))
}

// Leftovers lists the names of the images in the repository whose names
// start with prefix (letters, digits and '-' only).
func (s OstreeStore) Leftovers(prefix string) []string {
	ents, err := s.Host.ReadDir(path.Join(s.Repo, "refs/heads", strings.TrimSuffix(syscontainerfmt.OciImagePrefix, "/")))
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		// Such a prefix encodes as itself.
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, syscontainerfmt.DecodeOstreeRef(e.Name()))
		}
	}
	return names
}

// layerBranch is the branch of a layer or config blob.
func layerBranch(d digest.Digest) string { return syscontainerfmt.OciImagePrefix + d.Encoded() }

package ostree

import (
	"encoding/hex"
	"fmt"
	"math/bits"
	"path"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// Commit is an ostree commit object, the GVariant
// (a{sv}aya(say)sstayay): metadata, parent checksum, related objects,
// subject, body, timestamp, root tree contents and root tree metadata
// checksums (ostree's OSTREE_COMMIT_GVARIANT_FORMAT).
type Commit struct {
	Checksum string
	Metadata VarDict
	// Parent is the hex checksum of the parent commit, "" for none.
	Parent  string
	Subject string
	Body    string
	// Timestamp is stored big-endian in the object, unlike everything
	// else (ostree's commit writer converts it with GUINT64_TO_BE).
	Timestamp    time.Time
	RootContents string
	RootMetadata string
}

// Version is the "version" metadata key, "" when unset.
func (c *Commit) Version() string {
	if c == nil {
		return ""
	}
	v, _ := c.Metadata.String("version")
	return v
}

// ManifestDigest is the digest of the container image manifest a commit
// was imported from: the "ostree.manifest-digest" key that ostree-rs-ext
// puts on the merge commit of an image (META_MANIFEST_DIGEST in
// ostreedev/ostree-rs-ext lib/src/container/store.rs; rpm-ostree shows it
// as "Digest:" and publishes it as container-image-reference-digest).
// "" when unset, as for commits pulled from an ostree repository.
func (c *Commit) ManifestDigest() string {
	if c == nil {
		return ""
	}
	v, _ := c.Metadata.String("ostree.manifest-digest")
	return v
}

// ClientLayer reports whether rpm-ostree made this commit on the host to
// layer packages: rpmostree.clientlayer=true, or for older rpm-ostree the
// presence of rpmostree.spec (rust/src/daemon.rs,
// deployment_layeredmeta_from_commit, in coreos/rpm-ostree).
func (c *Commit) ClientLayer() bool {
	if c == nil {
		return false
	}
	if b, ok := c.Metadata.Bool("rpmostree.clientlayer"); ok {
		return b
	}
	_, ok := c.Metadata["rpmostree.spec"]
	return ok
}

var typeCommit = mustType("(a{sv}aya(say)sstayay)")

// ParseCommit decodes a serialized commit object; name is used in errors.
func ParseCommit(name string, data []byte) (*Commit, error) {
	v, err := newDecoder(len(data)).decode(typeCommit, data, 0)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", name, err)
	}
	f := v.([]any)
	c := &Commit{Metadata: toVarDict(f[0])}
	parent := f[1].([]byte)
	switch len(parent) {
	case 0:
	case 32:
		c.Parent = hex.EncodeToString(parent)
	default:
		return nil, fmt.Errorf("commit %s: parent checksum has %d bytes, want 0 or 32", name, len(parent))
	}
	c.Subject = f[3].(string)
	c.Body = f[4].(string)
	c.Timestamp = time.Unix(int64(bits.ReverseBytes64(f[5].(uint64))), 0).UTC()
	c.RootContents = hex.EncodeToString(f[6].([]byte))
	c.RootMetadata = hex.EncodeToString(f[7].([]byte))
	return c, nil
}

// ReadCommit reads the commit object checksum from the repository at
// host path repo in files (objects/xx/yyyy.commit, the layout of every
// repo mode), at most the limit for ostree metadata objects.
func ReadCommit(files rootfs.FS, repo, checksum string) (*Commit, error) {
	if !validChecksum(checksum) {
		return nil, fmt.Errorf("%q is not a SHA-256 checksum", checksum)
	}
	p := path.Join(repo, "objects", checksum[:2], checksum[2:]+".commit")
	data, err := files.ReadFile(p, rootfs.Object)
	if err != nil {
		return nil, fmt.Errorf("commit object: %w", err)
	}
	c, err := ParseCommit(p, data)
	if err != nil {
		return nil, err
	}
	c.Checksum = checksum
	return c, nil
}

func validChecksum(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

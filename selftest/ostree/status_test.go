package ostree_test

import (
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
)

// A container-image deployment (rpm-ostree rebase to an image, or bootc)
// is shown the way `rpm-ostree status` shows one: the image reference as
// the origin line, no ostree:// prefix, then its manifest digest.
func TestWriteStatusContainerImage(t *testing.T) {
	const (
		digest = "sha256:d12dd2fcb57ecfde0941be604f4dcd43ce0409b86e5ee4e362184c802b80fb84"
		image  = "ostree-unverified-registry:quay.io/fedora/fedora-coreos:stable"
	)
	sr := ostreetest.New(t, "fedora-coreos")
	sr.Commit(branch, "41.1", "a")
	sr.Deploy("fedora-coreos", branch)
	c := sr.Commit("ostree/container/image/fcos", "41.20241109.3.0", "b", "--add-metadata-string=ostree.manifest-digest="+digest)
	sr.Deploy("fedora-coreos", c)
	sr.WriteOrigin("fedora-coreos", c, 0, "[origin]\ncontainer-image-reference="+image+"\n")
	s := load(t, ostree.Options{Root: sr.Dir})
	d := s.Deployments[0]
	if d.ImageReference() != image || d.ImageDigest() != digest {
		t.Fatalf("deployment 0: image %q digest %q", d.ImageReference(), d.ImageDigest())
	}
	if s.Deployments[1].ImageReference() != "" || s.Deployments[1].ImageDigest() != "" {
		t.Errorf("a ref deployment has image %q digest %q", s.Deployments[1].ImageReference(), s.Deployments[1].ImageDigest())
	}
	var b strings.Builder
	if err := ostree.WriteStatus(&b, s); err != nil {
		t.Fatal(err)
	}
	want := "Deployments:\n" +
		"  " + image + "\n" +
		"                    Digest: " + digest + "\n" +
		"                   Version: 41.20241109.3.0 (" + d.Commit.Timestamp.UTC().Format(time.RFC3339) + ")\n" +
		"                    Commit: " + c + ".0\n" +
		"\n" +
		"  ostree://" + branch + "\n"
	if !strings.HasPrefix(b.String(), want) {
		t.Errorf("status:\n%s\nwant it to start with:\n%s", b.String(), want)
	}
	if strings.Count(b.String(), "Digest:") != 1 {
		t.Errorf("a ref deployment shows a digest:\n%s", b.String())
	}
}

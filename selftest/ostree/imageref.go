package ostree

import (
	"fmt"
	"strings"
)

// ImageRef is an origin's container-image-reference taken apart: how the
// image's signature is verified, the transport it is fetched with and the
// image itself. The string form is ostree-rs-ext's OstreeImageReference
// (lib/src/container/mod.rs in ostreedev/ostree-rs-ext, now part of
// bootc-dev/bootc's crates/ostree-ext), which rpm-ostree and bootc write
// to the origin:
//
//	ostree-unverified-registry:IMAGE            (registry, no verification)
//	ostree-unverified-image:TRANSPORT:IMAGE
//	ostree-image-signed:TRANSPORT:IMAGE          (containers-policy.json)
//	ostree-remote-image:REMOTE:TRANSPORT:IMAGE  (signed by an ostree remote)
//	ostree-remote-registry:REMOTE:IMAGE
//
// TRANSPORT:IMAGE is containers-image's form: "docker://quay.io/x:tag"
// for a registry, "oci:/path", "containers-storage:name", ...
type ImageRef struct {
	// Signature is "insecure" (unverified), "container-policy" or
	// "ostree-remote:NAME".
	Signature string
	// Transport is "registry" for docker://, else the containers-image
	// transport name (oci, oci-archive, containers-storage, dir).
	Transport string
	Image     string
}

// ParseImageRef takes an OstreeImageReference apart.
func ParseImageRef(s string) (ImageRef, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return ImageRef{}, fmt.Errorf("image reference %q: no scheme", s)
	}
	var r ImageRef
	var err error
	switch scheme {
	case "ostree-unverified-registry":
		r = ImageRef{Signature: "insecure", Transport: "registry", Image: rest}
	case "ostree-remote-registry":
		remote, img, ok := strings.Cut(rest, ":")
		if !ok || remote == "" {
			return ImageRef{}, fmt.Errorf("image reference %q: no remote name", s)
		}
		r = ImageRef{Signature: "ostree-remote:" + remote, Transport: "registry", Image: img}
	case "ostree-unverified-image", "ostree-image-signed":
		r.Signature = map[string]string{"ostree-unverified-image": "insecure", "ostree-image-signed": "container-policy"}[scheme]
		r.Transport, r.Image, err = splitTransport(rest)
	case "ostree-remote-image":
		remote, tail, ok := strings.Cut(rest, ":")
		if !ok || remote == "" {
			return ImageRef{}, fmt.Errorf("image reference %q: no remote name", s)
		}
		r.Signature = "ostree-remote:" + remote
		r.Transport, r.Image, err = splitTransport(tail)
	default:
		return ImageRef{}, fmt.Errorf("image reference %q: unknown scheme %q", s, scheme)
	}
	if err != nil {
		return ImageRef{}, fmt.Errorf("image reference %q: %w", s, err)
	}
	if r.Image == "" {
		return ImageRef{}, fmt.Errorf("image reference %q: no image", s)
	}
	return r, nil
}

// splitTransport splits containers-image's TRANSPORT:IMAGE; "docker://"
// is the registry transport (ostree-rs-ext's Transport::Registry).
func splitTransport(s string) (string, string, error) {
	t, img, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("no transport in %q", s)
	}
	switch t {
	case "docker", "registry":
		return "registry", strings.TrimPrefix(img, "//"), nil
	case "oci", "oci-archive", "containers-storage", "dir", "docker-archive", "docker-daemon":
		return t, img, nil
	}
	return "", "", fmt.Errorf("unknown transport %q", t)
}

// SplitDigest splits IMAGE@sha256:HEX into the image and the digest; the
// digest is "" when the reference has none.
func SplitDigest(ref string) (image, digest string) {
	if i := strings.LastIndex(ref, "@"); i >= 0 && strings.HasPrefix(ref[i+1:], "sha256:") {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// MatchImage says how a deployment following ref (its origin's
// container-image-reference) with manifest digest digest differs from
// want, an expectation written REFERENCE[@sha256:DIGEST]; "" when it
// matches. REFERENCE is either the origin's string as written
// (ostree-unverified-registry:quay.io/x:tag) or the image inside it
// (quay.io/x:tag); a digest, when given, must be the deployment's.
func MatchImage(want, ref, digest string) string {
	if ref == "" {
		return fmt.Sprintf("the deployment follows no container image, expected %s", want)
	}
	wantImg, wantDigest := SplitDigest(want)
	candidates := []string{ref}
	if r, err := ParseImageRef(ref); err == nil {
		candidates = append(candidates, r.Image)
	}
	match := false
	for _, c := range candidates {
		bare, _ := SplitDigest(c)
		// An origin may pin the digest in the reference itself.
		if c == want || c == wantImg || bare == wantImg {
			match = true
		}
	}
	if !match {
		return fmt.Sprintf("the deployment follows %s, expected %s", ref, wantImg)
	}
	if wantDigest != "" && wantDigest != digest {
		if digest == "" {
			return fmt.Sprintf("image %s has no manifest digest (no ostree.manifest-digest on its commit), expected %s", ref, wantDigest)
		}
		return fmt.Sprintf("image %s has digest %s, expected %s", ref, digest, wantDigest)
	}
	return ""
}

package ostree

import (
	"strings"
	"testing"
)

// The forms of ostree-rs-ext's OstreeImageReference (lib/src/container/
// mod.rs in ostreedev/ostree-rs-ext); the first is the one in rpm-ostree's
// rust/rpmostree-client/tests/fixtures/coreos-oci-status.json.
func TestParseImageRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ImageRef
		err  string
	}{
		{"ostree-unverified-registry:quay.io/fedora/fedora-coreos@sha256:d12dd2fcb57ecfde0941be604f4dcd43ce0409b86e5ee4e362184c802b80fb84",
			ImageRef{"insecure", "registry", "quay.io/fedora/fedora-coreos@sha256:d12dd2fcb57ecfde0941be604f4dcd43ce0409b86e5ee4e362184c802b80fb84"}, ""},
		{"ostree-unverified-image:docker://quay.io/fedora/fedora-coreos:stable", ImageRef{"insecure", "registry", "quay.io/fedora/fedora-coreos:stable"}, ""},
		{"ostree-image-signed:docker://quay.io/x/y:1", ImageRef{"container-policy", "registry", "quay.io/x/y:1"}, ""},
		{"ostree-remote-image:fedora:docker://quay.io/x/y:1", ImageRef{"ostree-remote:fedora", "registry", "quay.io/x/y:1"}, ""},
		{"ostree-remote-registry:fedora:quay.io/x/y:1", ImageRef{"ostree-remote:fedora", "registry", "quay.io/x/y:1"}, ""},
		{"ostree-unverified-image:oci:/var/tmp/img", ImageRef{"insecure", "oci", "/var/tmp/img"}, ""},
		{"fedora/28/x86_64/atomic-host", ImageRef{}, "no scheme"},
		{"fedora:fedora/28/x86_64/atomic-host", ImageRef{}, `unknown scheme "fedora"`},
		{"ostree-unverified-image:ftp:/x", ImageRef{}, `unknown transport "ftp"`},
		{"ostree-unverified-registry:", ImageRef{}, "no scheme"},
		{"ostree-remote-image::docker://x", ImageRef{}, "no remote name"},
	} {
		got, err := ParseImageRef(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestSplitDigest(t *testing.T) {
	img, dg := SplitDigest("quay.io/a/b:1@sha256:abc")
	if img != "quay.io/a/b:1" || dg != "sha256:abc" {
		t.Errorf("%q %q", img, dg)
	}
	if img, dg := SplitDigest("ostree-unverified-registry:quay.io/a/b:1"); img != "ostree-unverified-registry:quay.io/a/b:1" || dg != "" {
		t.Errorf("%q %q", img, dg)
	}
}

func FuzzParseImageRef(f *testing.F) {
	for _, s := range []string{"ostree-unverified-registry:quay.io/x:1", "ostree-remote-image:r:docker://x", "ostree-image-signed:oci:/p", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseImageRef(s)
		if err == nil && (r.Image == "" || r.Transport == "" || r.Signature == "") {
			t.Fatalf("%q parsed to an incomplete %+v", s, r)
		}
		SplitDigest(s)
	})
}

func TestMatchImage(t *testing.T) {
	const (
		d1  = "sha256:d12dd2fcb57ecfde0941be604f4dcd43ce0409b86e5ee4e362184c802b80fb84"
		d2  = "sha256:736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34"
		ref = "ostree-unverified-registry:quay.io/fedora/fedora-coreos:stable"
	)
	for _, tc := range []struct{ want, ref, digest, msg string }{
		{ref, ref, d1, ""},
		{"quay.io/fedora/fedora-coreos:stable", ref, d1, ""},
		{"quay.io/fedora/fedora-coreos:stable@" + d1, ref, d1, ""},
		{ref + "@" + d1, ref, d1, ""},
		// rpm-ostree's coreos-oci-status fixture pins the digest in the
		// reference itself.
		{"quay.io/fedora/fedora-coreos@" + d1, "ostree-unverified-registry:quay.io/fedora/fedora-coreos@" + d1, d1, ""},
		{"quay.io/fedora/fedora-coreos:stable@" + d2, ref, d1, "image " + ref + " has digest " + d1 + ", expected " + d2},
		{"quay.io/fedora/fedora-coreos:next", ref, d1, "the deployment follows " + ref + ", expected quay.io/fedora/fedora-coreos:next"},
		{"quay.io/x:1@" + d1, "ostree-unverified-registry:quay.io/x:1", "", "has no manifest digest"},
		{"quay.io/x:1", "", "", "the deployment follows no container image, expected quay.io/x:1"},
	} {
		if got := MatchImage(tc.want, tc.ref, tc.digest); tc.msg == "" && got != "" || tc.msg != "" && !strings.Contains(got, tc.msg) {
			t.Errorf("MatchImage(%q, %q, %q) = %q, want %q", tc.want, tc.ref, tc.digest, got, tc.msg)
		}
	}
}

package syscontainerfmt

import "testing"

// The encoding matches the atomic CLI's own tests and integration tests
// (tests/unit/test_syscontainers.py, tests/integration/
// test_system_containers_images.sh and _pull.sh).
func TestEncodeOstreeRef(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":            "busybox_3Alatest",
		"docker.io/busybox":  "docker.io_2Fbusybox_3Alatest",
		"atomic-test-system": "atomic-test-system_3Alatest",
		"registry.fedoraproject.org/f27/kubernetes-apiserver":     "registry.fedoraproject.org_2Ff27_2Fkubernetes-apiserver_3Alatest",
		"registry.fedoraproject.org/f27/kubernetes-apiserver:tag": "registry.fedoraproject.org_2Ff27_2Fkubernetes-apiserver_3Atag",
		"cafe:tag":                 "cafe_3Atag",
		"oci:localhost:5000/a/b:1": "localhost_3A5000_2Fa_2Fb_3A1",
	} {
		if got := EncodeOstreeRef(in); got != want {
			t.Errorf("EncodeOstreeRef(%q) = %q, want %q", in, got, want)
		}
		if got := DecodeOstreeRef(want); NormalizeImage(got) != NormalizeImage(in) {
			t.Errorf("DecodeOstreeRef(%q) = %q, not %q", want, got, in)
		}
	}
}

package bootc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Each row is one of bootc's own fixtures (testdata/README.md) and what
// spec.rs says it means.
func TestParseBootcFixtures(t *testing.T) {
	for _, tc := range []struct {
		file      string
		managed   bool
		roles     string
		booted    string // image@digest of the booted entry
		bootedSum string
	}{
		// Not a bootc host: every entry null, spec.image null.
		{"spec-v1-null.json", false, "", "", ""},
		{"spec-staged-booted.json", true, "staged booted", "quay.io/example/someimage:latest@sha256:736b359467c9437c1ac915acaae952aad854e07eb4a16a94999a48af08c83c34", "26836632adf6228d64ef07a26fd3efaf177104efd1f341a2cf7909a3e4e2c72c"},
		// booted null: bootc reads a sysroot it did not boot.
		{"spec-staged-rollback.json", false, "staged rollback", "", ""},
		// An ostree deployment bootc did not deploy: no image.
		{"spec-rfe-ostree-deployment.json", true, "staged booted", "", "f9fa3a553ceaaaf30cf85bfe7eed46a822f7b8fd7e14c1e3389cbc3f6d27f791"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			h, err := Parse(readFixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if h.Managed() != tc.managed {
				t.Errorf("managed %v, want %v", h.Managed(), tc.managed)
			}
			var roles []string
			for _, e := range h.Entries() {
				roles = append(roles, e.Role)
			}
			if got := strings.Join(roles, " "); got != tc.roles {
				t.Errorf("roles %q, want %q", got, tc.roles)
			}
			b := h.Status.Booted
			var booted, sum string
			if b != nil && b.Image != nil {
				booted = b.Image.Image.String() + "@" + b.Image.ImageDigest
			}
			if b != nil && b.Ostree != nil {
				sum = b.Ostree.Checksum
			}
			if booted != tc.booted || sum != tc.bootedSum {
				t.Errorf("booted %q %q, want %q %q", booted, sum, tc.booted, tc.bootedSum)
			}
			if h.Composefs() {
				t.Error("no fixture here boots composefs-native")
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	good := string(readFixture(t, "spec-staged-booted.json"))
	for _, tc := range []struct{ name, doc, want string }{
		{"not json", "bootc: error: unknown flag", "decoding bootc status"},
		{"other kind", strings.Replace(good, `"BootcHost"`, `"Pod"`, 1), `kind "Pod", expected BootcHost`},
		{"other api", strings.Replace(good, "org.containers.bootc/v1alpha1", "org.containers.bootc/v2", 1), `apiVersion "org.containers.bootc/v2"`},
		{"short checksum", strings.Replace(good, "26836632adf6228d64ef07a26fd3efaf177104efd1f341a2cf7909a3e4e2c72c", "2683", 1), `booted: ostree.checksum "2683" is not 64 hex digits`},
		{"bad digest", strings.Replace(good, "sha256:736b", "md5:736b", 1), `booted: image.imageDigest "md5:736b`},
		{"too big", good + strings.Repeat(" ", MaxStatus), "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestComposefsEntry(t *testing.T) {
	// spec.rs BootEntry.composefs: set on a composefs-native deployment,
	// with ostree null (bootc-dev/bootc crates/lib/src/spec.rs).
	doc := `{"apiVersion":"org.containers.bootc/v1","kind":"BootcHost","spec":{"image":null},
	"status":{"booted":{"image":null,"ostree":null,"composefs":{"verity":"abc","bootType":"bls","bootloader":"systemd"}},"staged":null,"rollback":null}}`
	h, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Managed() || !h.Composefs() {
		t.Fatalf("managed %v composefs %v, want both", h.Managed(), h.Composefs())
	}
}

func TestImageReferenceString(t *testing.T) {
	for _, tc := range []struct {
		r    ImageReference
		want string
	}{
		{ImageReference{Image: "quay.io/x:1", Transport: "registry"}, "quay.io/x:1"},
		{ImageReference{Image: "/var/oci", Transport: "oci"}, "oci:/var/oci"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, n := range []string{"spec-v1-null.json", "spec-staged-booted.json", "spec-staged-rollback.json", "spec-rfe-ostree-deployment.json"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Parse(data)
		if err != nil {
			return
		}
		_ = h.Managed()
		_ = h.Composefs()
		for _, e := range h.Entries() {
			if e.Entry == nil {
				t.Fatal("nil entry listed")
			}
		}
	})
}

// BenchmarkParse: one status document of bootc's fixtures, as the check
// decodes it on every boot.
func BenchmarkParse(b *testing.B) {
	data := readFixture(b, "spec-staged-booted.json")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

package family

import (
	"os"
	"strings"
	"testing"
)

// bootcTestdata is the project's one set of bootc status fixtures,
// bootc's own (selftest/bootc/testdata/README.md names their sources).
// bootc's source holds no fixture with apiVersion v1 and entries; the
// v1 document with entries is the simulated host's (outertest), which
// the driver's tests read through `bootc status`.
const bootcTestdata = "../../selftest/bootc/testdata/"

// bootcFixture is spec-staged-booted.json with its status object's
// members replaced by status, for the cases below.
func bootcFixture(t testing.TB, status string) []byte {
	t.Helper()
	data, err := os.ReadFile(bootcTestdata + "spec-staged-booted.json")
	if err != nil {
		t.Fatal(err)
	}
	if status == "" {
		return data
	}
	i := strings.Index(string(data), `"status": {`)
	return []byte(string(data[:i]) + `"status": {` + status + "}}\n")
}

var (
	sumA, sumB = strings.Repeat("a", 64), strings.Repeat("b", 64)
	bootcA     = `{"image": {"image": {"image": "quay.io/example/a:1", "transport": "registry"}, "version": "1", "imageDigest": "sha256:` + sumA + `"}, "ostree": {"stateroot": "default", "checksum": "` + sumA + `", "deploySerial": 0}}`
	bootcB     = `{"image": {"image": {"image": "quay.io/example/a:1", "transport": "registry"}, "version": "2", "imageDigest": "sha256:` + sumB + `"}, "ostree": {"stateroot": "default", "checksum": "` + sumB + `", "deploySerial": 0}}`
)

func TestParseBootcStatus(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		// want is the deployments in order: checksum, then * for booted
		// and s for staged.
		want []string
		err  string
	}{
		// bootc's own fixture (spec-staged-booted.yaml): a staged
		// update is the next boot.
		{name: "staged-booted", want: []string{"3c6dad657109522e0b2e49bf44b5420f16f0b438b5b9357e5132211cfbad135d s",
			"26836632adf6228d64ef07a26fd3efaf177104efd1f341a2cf7909a3e4e2c72c *"}},
		// After an upgrade's reboot: the booted one first, the
		// previous as rollback.
		{name: "booted-rollback", status: `"staged": null, "booted": ` + bootcB + `, "rollback": ` + bootcA + `, "rollbackQueued": false`,
			want: []string{sumB + " *", sumA}},
		// After `bootc rollback` before the reboot: rollbackQueued puts
		// the rollback entry first (status.rs: rollback.index <
		// booted.index).
		{name: "rollback-queued", status: `"staged": null, "booted": ` + bootcB + `, "rollback": ` + bootcA + `, "rollbackQueued": true`,
			want: []string{sumA, sumB + " *"}},
		// A host not managed by bootc (bootc-status.8.md: booted null).
		{name: "not-bootc", status: `"staged": null, "booted": null, "rollback": null, "rollbackQueued": false`},
		// The composefs backend: no ostree commit to compare.
		{name: "composefs", status: `"booted": {"image": null, "ostree": null, "composefs": {"verity": "ab"}}`, err: "composefs"},
		// selftest/bootc's checks reach the driver: a garbled checksum
		// is refused, not compared.
		{name: "short-checksum", status: `"booted": ` + strings.Replace(bootcA, sumA+`", "deploySerial`, `aaaa", "deploySerial`, 1), err: "not 64 hex digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := ParseBootcStatus(bootcFixture(t, tc.status))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range st.Deployments {
				s := d.Checksum
				if d.Booted {
					s += " *"
				}
				if d.Staged {
					s += " s"
				}
				got = append(got, s)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("deployments %q, want %q", got, tc.want)
			}
		})
	}
	st, _ := ParseBootcStatus(bootcFixture(t, ""))
	if d := st.Default(); d.Version != "nightly" || d.ImageReference != "quay.io/example/someimage:latest" ||
		d.ImageDigest != "sha256:16dc2b6256b4ff0d2ec18d2dbfb06d117904010c8cf9732cdb022818cf7a7566" {
		t.Errorf("staged %+v", d)
	}
	if _, err := ParseBootcStatus([]byte(`{"kind": "Other"}`)); err == nil {
		t.Error("a document of another kind was accepted")
	}
}

func FuzzParseBootcStatus(f *testing.F) {
	f.Add(bootcFixture(f, ""))
	f.Fuzz(func(t *testing.T, b []byte) { ParseBootcStatus(b) })
}

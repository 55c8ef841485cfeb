package outer

import (
	"os"
	"strings"
	"testing"
)

// bootcFixture is testdata/bootc-status-staged-booted.json with its
// status object's members replaced by status, for the cases below.
func bootcFixture(t *testing.T, status string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/bootc-status-staged-booted.json")
	if err != nil {
		t.Fatal(err)
	}
	if status == "" {
		return data
	}
	i := strings.Index(string(data), `"status": {`)
	return []byte(string(data[:i]) + `"status": {` + status + "}}\n")
}

const (
	bootcA = `{"image": {"image": {"image": "quay.io/example/a:1", "transport": "registry"}, "version": "1", "imageDigest": "sha256:aa"}, "ostree": {"stateroot": "default", "checksum": "aaaa", "deploySerial": 0}}`
	bootcB = `{"image": {"image": {"image": "quay.io/example/a:1", "transport": "registry"}, "version": "2", "imageDigest": "sha256:bb"}, "ostree": {"stateroot": "default", "checksum": "bbbb", "deploySerial": 0}}`
)

func TestParseBootcStatus(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		// want is the deployments in order: checksum, then * for booted
		// and s for staged.
		want []string
		err  string
	}{
		// bootc's own fixture shape (crates/lib/src/fixtures/
		// spec-staged-booted.yaml): a staged update is the next boot.
		{name: "staged-booted", want: []string{"3c6dad657109522e0b2e49bf44b5420f16f0b438b5b9357e5132211cfbad135d s",
			"26836632adf6228d64ef07a26fd3efaf177104efd1f341a2cf7909a3e4e2c72c *"}},
		// After an upgrade's reboot: the booted one first, the
		// previous as rollback.
		{name: "booted-rollback", status: `"staged": null, "booted": ` + bootcB + `, "rollback": ` + bootcA + `, "rollbackQueued": false`,
			want: []string{"bbbb *", "aaaa"}},
		// After `bootc rollback` before the reboot: rollbackQueued puts
		// the rollback entry first (status.rs: rollback.index <
		// booted.index).
		{name: "rollback-queued", status: `"staged": null, "booted": ` + bootcB + `, "rollback": ` + bootcA + `, "rollbackQueued": true`,
			want: []string{"aaaa", "bbbb *"}},
		// A host not managed by bootc (bootc-status.8.md: booted null).
		{name: "not-bootc", status: `"staged": null, "booted": null, "rollback": null, "rollbackQueued": false`},
		// The composefs backend: no ostree commit to compare.
		{name: "composefs", status: `"booted": {"image": null, "ostree": null, "composefs": {"verity": "ab"}}`, err: "composefs"},
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
	if d := st.Default(); d.Version != "nightly" || d.Refspec != "registry:quay.io/example/someimage:latest" ||
		d.ImageDigest != "sha256:16dc2b6256b4ff0d2ec18d2dbfb06d117904010c8cf9732cdb022818cf7a7566" || d.OSName != "default" {
		t.Errorf("staged %+v", d)
	}
	if _, err := ParseBootcStatus([]byte(`{"kind": "Other"}`)); err == nil {
		t.Error("a document of another kind was accepted")
	}
}

func FuzzParseBootcStatus(f *testing.F) {
	data, err := os.ReadFile("testdata/bootc-status-staged-booted.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) { ParseBootcStatus(b) })
}

package family

import (
	"os"
	"strings"
	"testing"
)

// testdata/ostree-admin-status.txt and ostree-log.txt were printed by the
// real ostree 2022.7 (Debian 12) on a sysroot made with ostree admin
// init-fs, os-init and two deploys, after a rollback reordered them.
func TestParseOstreeAdminStatusReal(t *testing.T) {
	data, err := os.ReadFile("testdata/ostree-admin-status.txt")
	if err != nil {
		t.Fatal(err)
	}
	st, err := ParseOstreeAdminStatus(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Deployments) != 2 || st.Deployments[0].Version != "1.0" || st.Deployments[1].Version != "1.1" ||
		st.Deployments[0].OSName != "debian" || st.Deployments[1].Refspec != "test/ref" || len(st.Deployments[0].Checksum) != 64 {
		t.Errorf("%+v", st.Deployments)
	}
	booted := "* debian " + st.Deployments[1].Checksum + ".0 (rollback)\n    Version: 1.1\n" +
		"  debian " + st.Deployments[0].Checksum + ".3 (pending)\n    Version: 1.0\n    origin refspec: x\n"
	st, err = ParseOstreeAdminStatus([]byte(booted))
	if err != nil || st.Booted() != &st.Deployments[0].Deployment || st.Deployments[1].Serial != 3 || st.Rollback() != &st.Deployments[1].Deployment {
		t.Errorf("booted form: %+v %v", st, err)
	}
	for _, bad := range []string{"  debian nochecksum\n", "    Version: 1\n", "  debian zz.0\n", "  debian " + strings.Repeat("a", 64) + ".99999999999999999999\n"} {
		if _, err := ParseOstreeAdminStatus([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseOstreeLogReal(t *testing.T) {
	data, err := os.ReadFile("testdata/ostree-log.txt")
	if err != nil {
		t.Fatal(err)
	}
	log := ParseOstreeLog(data)
	if len(log) != 2 || log[0].Version != "1.1" || log[0].Parent != log[1].Checksum || log[1].Version != "1.0" || log[1].Parent != "" {
		t.Errorf("%+v", log)
	}
}

// rpm-ostree status --json, in the shape of rpm-ostree 2018.5's
// rpmostreed_deployment_generate_variant (Fedora Atomic Host 28): a
// layered pending deployment over the booted one (a rollback now goes
// back to the booted one).
const rpmOstreeFixture = `{"deployments":[
 {"id":"fedora-atomic-2f7f...-1","osname":"fedora-atomic","serial":1,"checksum":"aa11","version":"28.20180515.1",
  "timestamp":1526390000,"origin":"fedora-atomic:fedora/28/x86_64/atomic-host","booted":false,"staged":false,
  "base-checksum":"bb22","requested-packages":["htop"],"packages":["htop"],"pinned":false},
 {"id":"fedora-atomic-bb22-0","osname":"fedora-atomic","serial":0,"checksum":"bb22","version":"28.20180515.1",
  "origin":"fedora-atomic:fedora/28/x86_64/atomic-host","booted":true,"packages":[]}],
 "transaction":null,"cached-update":null}`

func TestParseRpmOstreeStatus(t *testing.T) {
	st, err := ParseRpmOstreeStatus([]byte(rpmOstreeFixture))
	if err != nil {
		t.Fatal(err)
	}
	d := st.Default()
	if d.Checksum != "aa11" || d.BaseChecksum != "bb22" || !HasPackage(d, "htop") || st.Booted().Checksum != "bb22" || st.Rollback().Checksum != "bb22" {
		t.Errorf("%+v", st)
	}
	if _, err := ParseRpmOstreeStatus([]byte(`{"deployments":[{"osname":"x"}]}`)); err == nil || !strings.Contains(err.Error(), "no checksum") {
		t.Errorf("missing checksum: %v", err)
	}
}

func FuzzParseStatus(f *testing.F) {
	data, _ := os.ReadFile("testdata/ostree-admin-status.txt")
	f.Add(data)
	f.Add([]byte(rpmOstreeFixture))
	f.Add([]byte("* debian " + strings.Repeat("0a", 32) + ".1 (staged)\n    Version: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if st, err := ParseOstreeAdminStatus(data); err == nil {
			st.Rollback()
			st.Default()
		}
		if st, err := ParseRpmOstreeStatus(data); err == nil {
			st.Rollback()
		}
		ParseOstreeLog(data)
	})
}

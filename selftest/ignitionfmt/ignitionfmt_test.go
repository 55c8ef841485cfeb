package ignitionfmt

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata is the ignition check's fixtures: the result files of a
// Fedora CoreOS host.
const testdata = "../checks/ignition/testdata"

func TestParseResult(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testdata, "ignition-result-previous.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseResult("x", data)
	if err != nil {
		t.Fatal(err)
	}
	if r.UserConfigProvided || r.ProvisioningBootID != "9f2e7b11-5c3d-4e8a-b1f0-6a7d2c9e4b05" || r.ProvisioningDate.Nanosecond() != 512000000 || len(r.PreviousReport) == 0 {
		t.Errorf("parsed %+v", r)
	}
	if _, err := ParseResult("x", []byte(`{"provisioningBootID":"3d1c5a0e-8a52-4f7e-9a4b-2e6c0f1d7b93","provisioningDate":"not a date","userConfigProvided":true}`)); err == nil || !strings.Contains(err.Error(), "decoding x") {
		t.Errorf("a bad date: %v", err)
	}
	if _, err := ParseResult("x", make([]byte, MaxResult+1)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("too big: %v", err)
	}
}

func FuzzParseResult(f *testing.F) {
	for _, n := range []string{"ignition-result.json", "ignition-result-previous.json"} {
		b, err := os.ReadFile(filepath.Join(testdata, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseResult("fuzz", data)
		if err == nil && (r.ProvisioningDate.IsZero() || len(r.ProvisioningBootID) != 36) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// ParseKeyWrites turns Ignition's logged path under /sysroot into the
// booted host's path and keeps Ignition's own entries with a user and a
// path only.
func TestParseKeyWrites(t *testing.T) {
	const ignition = `"_UID":"0","_TRANSPORT":"journal","_SYSTEMD_UNIT":"ignition-files.service",`
	ws, err := ParseKeyWrites([]byte(`{` + ignition + `"IGNITION_USER_NAME":"core","IGNITION_PATH":"/sysroot/var/home/core/.ssh/authorized_keys.d/ignition"}` + "\n\n" +
		`{` + ignition + `"IGNITION_USER_NAME":"x","IGNITION_PATH":["binary"]}` + "\n" +
		// The same entry logged by a user (logger --journald) is not Ignition's.
		`{"_UID":"1000","_TRANSPORT":"journal","_SYSTEMD_UNIT":"user@1000.service","IGNITION_USER_NAME":"admin","IGNITION_PATH":"/sysroot/root/.ssh/authorized_keys"}` + "\n"))
	if err != nil || len(ws) != 1 || ws[0] != (KeyWrite{"core", "/var/home/core/.ssh/authorized_keys.d/ignition"}) {
		t.Fatalf("%+v %v", ws, err)
	}
}

func FuzzParseKeyWrites(f *testing.F) {
	// One entry as journalctl --output=json prints it (the shape of the
	// ignition check's journal fixture).
	f.Add([]byte(`{"__CURSOR":"s=1;i=2","_UID":"0","_TRANSPORT":"journal","_SYSTEMD_UNIT":"ignition-files.service","MESSAGE_ID":"` + SSHKeysMessageID + `","IGNITION_USER_NAME":"core","IGNITION_PATH":"/sysroot/var/home/core/.ssh/authorized_keys.d/ignition"}` + "\n"))
	f.Add([]byte("{}\n[1,2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ws, _ := ParseKeyWrites(data)
		for _, w := range ws {
			if w.User == "" || w.Path == "" {
				t.Fatalf("empty write %+v", w)
			}
		}
	})
}

// ParseConfigFetches keeps the fetched-config entries of Ignition's fetch
// stages only, in the fields logStructuredJournalEntry sends.
func TestParseConfigFetches(t *testing.T) {
	const fetch = `"_UID":"0","_TRANSPORT":"journal","_SYSTEMD_UNIT":"ignition-fetch-offline.service","MESSAGE_ID":"` + FetchedConfigMessageID + `",`
	fs, err := ParseConfigFetches([]byte(`{` + fetch + `"IGNITION_CONFIG_TYPE":"base","IGNITION_CONFIG_SRC":"system","IGNITION_CONFIG_REFERENCED":"false"}` + "\n" +
		`{` + fetch + `"IGNITION_CONFIG_TYPE":"user","IGNITION_CONFIG_SRC":"qemu","IGNITION_CONFIG_REFERENCED":"false"}` + "\n" +
		`{` + strings.Replace(fetch, "fetch-offline", "fetch", 1) + `"IGNITION_CONFIG_TYPE":"user","IGNITION_CONFIG_SRC":"/site.ign","IGNITION_CONFIG_REFERENCED":"true"}` + "\n" +
		// Logged by a user, or by another stage: not a fetch.
		`{"_UID":"1000","_TRANSPORT":"journal","_SYSTEMD_UNIT":"user@1000.service","MESSAGE_ID":"` + FetchedConfigMessageID + `","IGNITION_CONFIG_TYPE":"user"}` + "\n" +
		`{"_UID":"0","_TRANSPORT":"journal","_SYSTEMD_UNIT":"ignition-files.service","MESSAGE_ID":"` + FetchedConfigMessageID + `","IGNITION_CONFIG_TYPE":"user"}` + "\n"))
	if err != nil || len(fs) != 3 {
		t.Fatalf("%+v %v", fs, err)
	}
	if got := fs[0].String() + "; " + fs[1].String() + "; " + fs[2].String(); got != "base config from system; user config from qemu; referenced user config from /site.ign" {
		t.Errorf("fetches: %s", got)
	}
}

func FuzzParseConfigFetches(f *testing.F) {
	f.Add([]byte(`{"_UID":"0","_TRANSPORT":"journal","_SYSTEMD_UNIT":"ignition-fetch.service","MESSAGE_ID":"` + FetchedConfigMessageID + `","IGNITION_CONFIG_TYPE":"user","IGNITION_CONFIG_SRC":"qemu"}` + "\n"))
	f.Add([]byte("{}\n[1]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, _ := ParseConfigFetches(data)
		for _, c := range fs {
			if c.Type == "" {
				t.Fatalf("a fetch without a type: %+v", c)
			}
		}
	})
}

// The files stage's op log as Ignition 2.14 printed it here
// (testdata/ignition-files-stage.txt): the finished user, file and
// enabled-unit ops, /sysroot taken off the paths; another sender's lines
// do not count.
func TestParseFilesOps(t *testing.T) {
	lines, err := os.ReadFile(filepath.Join(testdata, "ignition-files-stage.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		b, _ := json.Marshal(map[string]string{"_UID": "0", "_TRANSPORT": "stdout", "_SYSTEMD_UNIT": "ignition-files.service", "MESSAGE": l})
		out.Write(append(b, '\n'))
	}
	out.WriteString(`{"_UID":"1000","_TRANSPORT":"stdout","_SYSTEMD_UNIT":"user@1000.service","MESSAGE":"op(1): [finished] writing file \"/sysroot/etc/forged\""}` + "\n")
	ops, err := ParseFilesOps([]byte(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range ops {
		got = append(got, o.Kind+" "+o.Name)
	}
	want := "user root, user core, file /etc/hostname, file /etc/ssh/ssh_host_ed25519_key, file /etc/ssh/ssh_host_ed25519_key.pub, unit atomic-selftest-firstboot.service, file /etc/.ignition-result.json"
	if strings.Join(got, ", ") != want {
		t.Errorf("ops:\n%s\nwant\n%s", strings.Join(got, ", "), want)
	}
}

func FuzzParseFilesOps(f *testing.F) {
	f.Add([]byte(`{"_UID":"0","_TRANSPORT":"stdout","_SYSTEMD_UNIT":"ignition-files.service","MESSAGE":"INFO     : files: op(5): [finished] writing file \"/sysroot/etc/x\""}` + "\n"))
	f.Add([]byte(`{"_UID":"0","_TRANSPORT":"stdout","_SYSTEMD_UNIT":"ignition-files.service","MESSAGE":"op(1): [finished] creating or modifying user \"\\\"\""}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, _ := ParseFilesOps(data)
		for _, o := range ops {
			if o.Name == "" || (o.Kind != OpUser && o.Kind != OpFile && o.Kind != OpUnit) {
				t.Fatalf("bad op %+v", o)
			}
		}
	})
}

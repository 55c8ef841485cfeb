package qemu

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

func testSeed() *Seed {
	return &Seed{
		InstanceID:     "iid-1",
		Hostname:       "testbed-1",
		AuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake user@x"},
		HostKeyPrivate: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
		HostKeyPublic:  "ssh-ed25519 AAAAhost",
		Marker:         "/var/lib/m/ran",
		RunCmd:         [][]string{{"touch", "/tmp/a b"}},
	}
}

// cloud-init reads user-data as YAML after the "#cloud-config" line; JSON is
// YAML, so decoding the body as JSON proves the keys cloud-init sees.
func TestUserData(t *testing.T) {
	ud, err := testSeed().UserData()
	if err != nil {
		t.Fatal(err)
	}
	first, body, ok := strings.Cut(string(ud), "\n")
	if !ok || first != "#cloud-config" {
		t.Fatalf("first line %q, want #cloud-config", first)
	}
	var cc map[string]any
	if err := json.Unmarshal([]byte(body), &cc); err != nil {
		t.Fatalf("user-data body is not JSON/YAML: %v\n%s", err, body)
	}
	if cc["hostname"] != "testbed-1" || cc["disable_root"] != false {
		t.Errorf("hostname/disable_root: %v %v", cc["hostname"], cc["disable_root"])
	}
	keys, _ := cc["ssh_authorized_keys"].([]any)
	if len(keys) != 1 || !strings.HasPrefix(keys[0].(string), "ssh-ed25519 ") {
		t.Errorf("ssh_authorized_keys = %v", cc["ssh_authorized_keys"])
	}
	hk, _ := cc["ssh_keys"].(map[string]any)
	if hk["ed25519_public"] != "ssh-ed25519 AAAAhost" || !strings.Contains(hk["ed25519_private"].(string), "OPENSSH PRIVATE KEY") {
		t.Errorf("ssh_keys = %v", hk)
	}
	run, _ := cc["runcmd"].([]any)
	if len(run) != 2 {
		t.Fatalf("runcmd = %v, want the marker script and one command", run)
	}
	marker := run[0].([]any)
	if marker[0] != "sh" || marker[4] != "/var/lib/m/ran" || marker[5] != "iid-1" {
		t.Errorf("marker command = %v", marker)
	}
	if got := run[1].([]any); got[1] != "/tmp/a b" {
		t.Errorf("argv not kept as given: %v", got)
	}
}

// The marker script must write the instance id to the marker path through
// real sh, with hostile characters in the path kept as data.
func TestUserScriptWritesMarker(t *testing.T) {
	s := testSeed()
	dir := t.TempDir()
	s.Marker = filepath.Join(dir, "sub dir", "it's $(ran)")
	ud, _ := s.UserData()
	var cc struct {
		RunCmd [][]string `json:"runcmd"`
	}
	_, body, _ := strings.Cut(string(ud), "\n")
	if err := json.Unmarshal([]byte(body), &cc); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc.RunCmd[0][0], cc.RunCmd[0][1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, err := os.ReadFile(s.Marker); err != nil || string(got) != "iid-1\n" {
		t.Errorf("marker holds %q (%v)", got, err)
	}
}

func TestMetaData(t *testing.T) {
	md, err := testSeed().MetaData()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(md, &m); err != nil {
		t.Fatal(err)
	}
	if m["instance-id"] != "iid-1" || m["local-hostname"] != "testbed-1" {
		t.Errorf("meta-data = %v", m)
	}
}

// The NoCloud data source finds the seed by its volume label "cidata" and
// reads the two files from its root.
func TestWriteISO(t *testing.T) {
	testutil.NeedCommand(t, "genisoimage", "genisoimage")
	testutil.NeedCommand(t, "genisoimage", "isoinfo")
	iso := filepath.Join(t.TempDir(), "seed.iso")
	if err := testSeed().WriteISO(context.Background(), iso); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("isoinfo", "-d", "-i", iso).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "Volume id: cidata") {
		t.Errorf("volume id not cidata:\n%s", out)
	}
	for _, f := range []string{"user-data", "meta-data"} {
		b, err := exec.Command("isoinfo", "-R", "-i", iso, "-x", "/"+f).Output()
		if err != nil || len(b) == 0 {
			t.Errorf("%s not in the ISO under its Rock Ridge name: %v", f, err)
		}
	}
	if err := (&Seed{}).WriteISO(context.Background(), iso); err == nil || !strings.Contains(err.Error(), "instance id") {
		t.Errorf("empty seed: err = %v", err)
	}
}

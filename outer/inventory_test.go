package outer

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const sampleInventory = `# Atomic Host testers' inventory
[atomic]
fah-[01:03].example.com
10.0.0.9:2222 ansible_user=cloud-user  # a comment
vm1 ansible_host=192.168.122.5 ansible_ssh_private_key_file="/keys/id rsa"

[atomic:vars]
ansible_user=fedora

[legacy]
old ansible_ssh_host=10.1.1.1 ansible_ssh_port=2200

[ci:children]
atomic

[all:vars]
ansible_user=root
`

func TestInventory(t *testing.T) {
	inv, err := ParseInventory("hosts", []byte(sampleInventory))
	if err != nil {
		t.Fatal(err)
	}
	hs, err := inv.Hosts("ci")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hs {
		got = append(got, h.Name+" "+h.Addr+" "+h.User+" "+h.KeyFile+" "+strconv.Itoa(h.Port))
	}
	want := []string{
		"fah-01.example.com fah-01.example.com fedora  22",
		"fah-02.example.com fah-02.example.com fedora  22",
		"fah-03.example.com fah-03.example.com fedora  22",
		"10.0.0.9 10.0.0.9 cloud-user  2222", // host variables beat group vars
		"vm1 192.168.122.5 fedora /keys/id rsa 22",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ci hosts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	all, _ := inv.Hosts("")
	if len(all) != 6 || all[5].Name != "old" || all[5].Addr != "10.1.1.1" || all[5].Port != 2200 || all[5].User != "root" {
		t.Errorf("all: %+v", all)
	}
	if _, err := inv.Hosts("nope"); err == nil || !strings.Contains(err.Error(), `no group "nope"`) {
		t.Errorf("unknown group: %v", err)
	}
}

func TestInventoryErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"[atomic\nh1", "hosts:1: section"},
		{"[a:bogus]\n", "want :vars or :children"},
		{"[a:vars]\nnovalue\n", "hosts:2: [a:vars] wants key=value"},
		{"h1 ansible_port=x\n", "ansible_port \"x\" is not a port"},
		{"h1 junk\n", "variable \"junk\" is not key=value"},
		{"h[a:b]\n", "only numeric ranges"},
		{"h1 k='v\n", "unterminated quote"},
	} {
		inv, err := ParseInventory("hosts", []byte(tc.in))
		if err == nil {
			_, err = inv.Hosts("")
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzParseInventory(f *testing.F) {
	f.Add([]byte(sampleInventory))
	f.Add([]byte("[a:children]\na\n[a]\nh[1:3] x=1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory("fuzz", data)
		if err == nil {
			inv.Hosts("")
			inv.Hosts("a")
		}
	})
}

func TestLoadPlan(t *testing.T) {
	dir := t.TempDir()
	good := `name = "mine"
family = "rpm-ostree"
packages = ["vim-enhanced"]

[[step]]
name = "baseline"
  [[step.action]]
  do = "wait-up"
  [[step.action]]
  do = "collect"

[[step]]
name = "layer"
criterion = "C6"
  [[step.action]]
  do = "run"
  command = ["rpm-ostree", "install", "{package}"]
  changes = "install"
  timeout = "20m"
  [[step.action]]
  do = "expect"
  packages = ["{package}"]
  [[step.action]]
  do = "reboot"
`
	p := filepath.Join(dir, "plan.toml")
	os.WriteFile(p, []byte(good), 0o600)
	plan, err := LoadPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Name != "mine" || len(plan.Steps) != 2 || plan.Steps[1].Actions[0].Timeout.Minutes() != 20 {
		t.Errorf("plan %+v", plan)
	}
	for _, tc := range []struct{ edit, want string }{
		{`criterion = "C6"` + "=>" + `criterion = "C11"`, `step 2 (layer): criterion "C11": want C1 to C10`},
		{`do = "reboot"` + "=>" + `do = "reboots"`, `step 2 (layer): action 3 (reboots): field do: "reboots"`},
		{`changes = "install"` + "=>" + `changes = "layer"`, `step 2 (layer): action 1 (run): field changes: "layer"`},
		{`"{package}"]` + "=>" + `"{pkg}"]`, `placeholder {pkg}`},
		{`packages = ["vim-enhanced"]` + "=>" + ``, `the plan names 0 package(s)`},
		{`timeout = "20m"` + "=>" + `timeout = "soon"`, `soon`},
		{`name = "layer"` + "=>" + `name = "baseline"`, `step 2 (baseline): name used twice`},
		{`family = "rpm-ostree"` + "=>" + `family = "dnf"`, `family "dnf"`},
		{`do = "collect"` + "=>" + "do = \"collect\"\n  command = [\"x\"]", `step 1 (baseline): action 2 (collect): field command`},
		{`name = "mine"` + "=>" + `nmae = "mine"`, `unknown field nmae`},
	} {
		from, to, _ := strings.Cut(tc.edit, "=>")
		os.WriteFile(p, []byte(strings.Replace(good, from, to, 1)), 0o600)
		_, err := LoadPlan(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: got %v, want %q", tc.edit, err, tc.want)
		}
	}
	for name, mk := range Profiles {
		if err := mk().Validate(); err != nil {
			t.Errorf("built-in profile %s: %v", name, err)
		}
	}
}

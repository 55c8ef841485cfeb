package inventory

import (
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
	inv, err := Parse("hosts", []byte(sampleInventory))
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
		// Each range is bounded, and so is their product: this 16-byte
		// line once expanded to ten million names.
		{"h[0:9999][0:999]\n", `hosts:1: host pattern "h[0:9999][0:999]" expands to more than 10000 hosts`},
		{"h[0:10000]\n", "hosts:1: host pattern \"h[0:10000]\": bad range"},
		{"a[0:5999]\nb[0:4999]\n", "hosts:2: the inventory names more than 10000 hosts"},
		// A bound past int64: Atoi's error was ignored and it became the
		// largest int, the same endless loop.
		{"h[99999999999999999999:99999999999999999999]\n", `hosts:1: host pattern "h[99999999999999999999:99999999999999999999]": bad range`},
		{"h[1:99999999999999999999]\n", `hosts:1: host pattern "h[1:99999999999999999999]": bad range`},
	} {
		inv, err := Parse("hosts", []byte(tc.in))
		if err == nil {
			_, err = inv.Hosts("")
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.in, err, tc.want)
		}
	}
}

// A one-host range at the largest int is one host: the old loop's i++
// wrapped at the bound and ran until it was out of memory.
func TestRangeAtMaxInt(t *testing.T) {
	inv, err := Parse("hosts", []byte("h[9223372036854775806:9223372036854775807]\n"))
	if err != nil {
		t.Fatal(err)
	}
	hs, err := inv.Hosts("")
	if err != nil || len(hs) != 2 || hs[1].Name != "h9223372036854775807" {
		t.Fatalf("%+v %v", hs, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sampleInventory))
	f.Add([]byte("[a:children]\na\n[a]\nh[1:3] x=1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse("fuzz", data)
		if err == nil {
			inv.Hosts("")
			inv.Hosts("a")
		}
	})
}

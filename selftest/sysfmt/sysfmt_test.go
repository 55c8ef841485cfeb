package sysfmt

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// testdata/tcp and tcp6 were copied from this machine's /proc/net while
// it ran: the tcp table with its listeners (among them 0.0.0.0:2024),
// the tcp6 one with a listener on [::1]:2222 and one on [::]:2223.
func TestParseNetTCPRecorded(t *testing.T) {
	var listening []string
	for _, f := range []string{"testdata/tcp", "testdata/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		socks, err := ParseNetTCP(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, s := range socks {
			if s.State == TCPListen {
				listening = append(listening, fmt.Sprintf("%s:%d", s.Local, s.Port))
			}
		}
	}
	got := strings.Join(listening, " ")
	for _, want := range []string{"0.0.0.0:2024", "127.0.0.1:42285", ":::2223", "::1:2222"} {
		if !strings.Contains(" "+got+" ", " "+want+" ") {
			t.Errorf("listeners %s lack %s", got, want)
		}
	}
	if _, err := ParseNetTCP([]byte("header\n 0: zz:0016 0:0 0A\n")); err == nil {
		t.Error("a bad address was accepted")
	}
}

// machine-id(5): 32 lowercase hex digits and a newline; "uninitialized"
// is the first boot's mark.
func TestCheckMachineID(t *testing.T) {
	if id, err := CheckMachineID([]byte("4f2a9c1e7b3d4e5f8a6b0c1d2e3f4a5b\n")); err != nil || id != "4f2a9c1e7b3d4e5f8a6b0c1d2e3f4a5b" {
		t.Errorf("valid id: %q %v", id, err)
	}
	if _, err := CheckMachineID([]byte("uninitialized\n")); !errors.Is(err, ErrUninitialized) {
		t.Errorf("uninitialized: %v", err)
	}
	for in, want := range map[string]string{
		"":                                   "empty",
		"4F2A9C1E7B3D4E5F8A6B0C1D2E3F4A5B\n": "not lowercase hexadecimal",
		"00000000000000000000000000000000\n": "all zeros",
		"4f2a9c1e\n":                         "8 characters, not 32",
	} {
		if _, err := CheckMachineID([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestBootstatusAndPorts(t *testing.T) {
	if v, err := ParseBootstatus([]byte("32\n")); err != nil || v&WDIOFCardReset == 0 {
		t.Errorf("32: %d %v", v, err)
	}
	if _, err := ParseBootstatus([]byte("x")); err == nil {
		t.Error("x accepted")
	}
	ports, err := SSHDPorts([]byte("# Port 99\nport 2222\nPort=2223\nMatch User x\nPort 4\n"))
	if err != nil || fmt.Sprint(ports) != "[2222 2223]" {
		t.Errorf("ports %v %v", ports, err)
	}
	if _, err := SSHDPorts([]byte("Port 70000\n")); err == nil {
		t.Error("port 70000 accepted")
	}
}

func FuzzParseNetTCP(f *testing.F) {
	if b, err := os.ReadFile("testdata/tcp6"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		socks, err := ParseNetTCP(b)
		for _, s := range socks {
			if s.Port < 0 || s.Port > 65535 || (len(s.Local) != 4 && len(s.Local) != 16) {
				t.Fatalf("%+v (%v)", s, err)
			}
		}
	})
}

func FuzzSSHDPorts(f *testing.F) {
	f.Add([]byte("Port 22\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ports, _ := SSHDPorts(b)
		for _, p := range ports {
			if p < 1 || p > 65535 {
				t.Fatal(p)
			}
		}
	})
}

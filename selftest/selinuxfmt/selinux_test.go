package selinuxfmt

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// Every recorded Fedora denial parses, with the fields the reports show.
func TestParseAVCRecordedFedoraLines(t *testing.T) {
	f, err := os.Open("testdata/avc-fedora.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		a, ok := ParseAVC(line)
		if !ok {
			t.Errorf("not parsed: %s", line)
			continue
		}
		got = append(got, a.String())
	}
	want := []string{
		"denied { search } comm=qemu-ga scontext=system_u:system_r:virt_qemu_ga_t:s0 tcontext=system_u:object_r:container_var_lib_t:s0 tclass=dir name=containers",
		"denied { read } comm=ls scontext=system_u:system_r:container_init_t:s0:c562,c967 tcontext=system_u:object_r:nfs_t:s0 tclass=dir name=name",
		"denied { getattr } comm=coreos-installe scontext=system_u:system_r:coreos_installer_t:s0 tcontext=system_u:object_r:udev_exec_t:s0 tclass=file path=/usr/bin/udevadm",
		"denied { getattr } comm=coreos-boot-mou scontext=system_u:system_r:coreos_boot_mount_generator_t:s0 tcontext=system_u:object_r:var_run_t:s0 tclass=file path=/run/ostree-live (permissive)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("parsed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, notAVC := range []string{"avc:  granted-ish", "audit: type=1300 audit(1.2:3): arch=c000003e syscall=42", "avc:  denied  { read } for pid=1"} {
		if a, ok := ParseAVC(notAVC); ok {
			t.Errorf("%q parsed as %+v", notAVC, a)
		}
	}
}

// selinux_config(5): the mode, quoted or not, any case; a bad mode is an
// error naming it.
func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte("# This file controls the state of SELinux\nSELINUX=Enforcing\nSELINUXTYPE=\"targeted\"\n"))
	if err != nil || c.Mode != Enforcing || c.Type != "targeted" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := ParseConfig([]byte("SELINUX=strict\n")); err == nil || !strings.Contains(err.Error(), `SELINUX="strict"`) {
		t.Errorf("bad mode: %v", err)
	}
	if _, err := ParseConfig([]byte("SELINUXTYPE=targeted\n")); err == nil {
		t.Error("no mode accepted")
	}
	for in, want := range map[string]string{"1\n": Enforcing, "0": Permissive} {
		if m, err := ParseEnforce([]byte(in)); err != nil || m != want {
			t.Errorf("enforce %q: %s %v", in, m, err)
		}
	}
	if _, err := ParseEnforce([]byte("2")); err == nil {
		t.Error("enforce 2 accepted")
	}
}

func FuzzParseAVC(f *testing.F) {
	f.Add(`AVC avc:  denied  { search } for  pid=696 comm="qemu-ga" scontext=a tcontext=b tclass=dir permissive=0`)
	f.Add("avc: granted { x } scontext=a tclass=b")
	f.Fuzz(func(t *testing.T, line string) {
		if a, ok := ParseAVC(line); ok && (a.Scontext == "" || a.Tclass == "") {
			t.Fatalf("%+v from %q", a, line)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("SELINUX=enforcing\nSELINUXTYPE=targeted\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParseConfig(b); err == nil && c.Mode != Enforcing && c.Mode != Permissive && c.Mode != Disabled {
			t.Fatalf("mode %q", c.Mode)
		}
	})
}

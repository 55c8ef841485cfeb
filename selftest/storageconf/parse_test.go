package storageconf

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseEnvFile(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		err  string
	}{
		// container-storage-setup's devicemapper output (get_devicemapper_config_options
		// echoes the unquoted line, so the value ends in a blank before the quote).
		{`DOCKER_STORAGE_OPTIONS="--storage-driver devicemapper --storage-opt dm.fs=xfs --storage-opt dm.thinpooldev=/dev/mapper/atomicos-docker--pool --storage-opt dm.use_deferred_removal=true --storage-opt dm.use_deferred_deletion=true "` + "\n",
			map[string]string{"DOCKER_STORAGE_OPTIONS": "--storage-driver devicemapper --storage-opt dm.fs=xfs --storage-opt dm.thinpooldev=/dev/mapper/atomicos-docker--pool --storage-opt dm.use_deferred_removal=true --storage-opt dm.use_deferred_deletion=true "}, ""},
		// Its input: plain assignments and comments, as in container-storage-setup.conf.
		{"# Specify storage driver\nSTORAGE_DRIVER=overlay2\n\n# VG=\nDATA_SIZE=40%FREE\n", map[string]string{"STORAGE_DRIVER": "overlay2", "DATA_SIZE": "40%FREE"}, ""},
		{"export A='x y' ; comment\n", nil, "unquoted blank"},
		{"export A='x y'\nB=\"a\\\"b\" # trailing comment\n; systemd comment\n", map[string]string{"A": "x y", "B": `a"b`}, ""},
		{"A=one\\\ntwo\n", map[string]string{"A": "onetwo"}, ""},
		{"A=\"open\n", nil, "line 1: A: unterminated double quote"},
		{"just words\n", nil, "line 1"},
		{"1A=x\n", nil, "not a variable name"},
		{"A=x\nA=y\n", map[string]string{"A": "y"}, ""},
	} {
		got, err := ParseEnvFile(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseEnvFile(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseEnvFile(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args string
		want Flags
	}{
		{"--storage-driver devicemapper --storage-opt dm.fs=xfs --storage-opt dm.thinpooldev=/dev/mapper/a-b", Flags{Driver: "devicemapper", Opts: []string{"dm.fs=xfs", "dm.thinpooldev=/dev/mapper/a-b"}}},
		{"-H fd:// --storage-driver=overlay2 --storage-opt=overlay2.size=1G -g /data/docker", Flags{Driver: "overlay2", Opts: []string{"overlay2.size=1G"}, DataRoot: "/data/docker"}},
		{"-s vfs --data-root=/x --config-file /etc/d.json", Flags{Driver: "vfs", DataRoot: "/x", ConfigFile: "/etc/d.json"}},
		{"-soverlay2", Flags{Driver: "overlay2"}},
		{"--selinux-enabled --log-driver=journald --signature-verification=false", Flags{}},
	} {
		got, err := ParseFlags(strings.Fields(tc.args))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseFlags(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
	if _, err := ParseFlags([]string{"--storage-driver"}); err == nil {
		t.Error("a flag without its value parsed")
	}
	f := Flags{Opts: []string{"dm.fs=xfs", "dm.thinpooldev = /dev/mapper/x"}}
	if f.Opt("dm.thinpooldev") != "/dev/mapper/x" || f.Opt("dm.basesize") != "" {
		t.Errorf("Opt: %q", f.Opt("dm.thinpooldev"))
	}
}

func TestSplitCommand(t *testing.T) {
	env := map[string]string{"OPTIONS": "--selinux-enabled  --log-driver=journald", "DOCKER_STORAGE_OPTIONS": "--storage-driver overlay2 ", "ONE": "a b"}
	got, err := splitCommand(`/usr/bin/dockerd-current --add-runtime "docker-runc=/usr/libexec/docker/docker-runc current" $OPTIONS $DOCKER_STORAGE_OPTIONS $UNSET ${ONE} x${ONE}y 'q\"'`, env)
	want := []string{"/usr/bin/dockerd-current", "--add-runtime", "docker-runc=/usr/libexec/docker/docker-runc current",
		"--selinux-enabled", "--log-driver=journald", "--storage-driver", "overlay2", "a b", "xa by", `q\"`}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("splitCommand = %q, %v\nwant %q", got, err, want)
	}
	if _, err := splitCommand(`a "b`, nil); err == nil {
		t.Error("an unterminated quote split")
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]float64{
		"11.8GB": 11.8e9, "11.8 GB": 11.8e9, "107.4GB": 107.4e9, "2.147GB": 2.147e9, "65.54kB": 65540,
		"0B": 0, "1 MiB": 1 << 20, "3": 3, "1e+03B": 1000,
	} {
		got, err := ParseSize(in)
		if err != nil || got < want*0.9999 || got > want*1.0001 {
			t.Errorf("ParseSize(%q) = %g, %v; want %g", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GB", "1 parsecs", "-1GB", "1.2.3GB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func TestSplitDMName(t *testing.T) {
	for in, want := range map[string][2]string{
		"atomicos-docker--pool":       {"atomicos", "docker-pool"},
		"fedora--atomic-docker--pool": {"fedora-atomic", "docker-pool"},
		"vg-lv":                       {"vg", "lv"},
	} {
		vg, lv, ok := SplitDMName(in)
		if !ok || vg != want[0] || lv != want[1] {
			t.Errorf("SplitDMName(%q) = %q %q %v", in, vg, lv, ok)
		}
		if dmEscape(vg)+"-"+dmEscape(lv) != in {
			t.Errorf("dmEscape does not invert SplitDMName for %q", in)
		}
	}
	for _, bad := range []string{"nodash", "-lv", "vg-", "a--b"} {
		if _, _, ok := SplitDMName(bad); ok {
			t.Errorf("SplitDMName(%q) succeeded", bad)
		}
	}
}

// lvsThinPool returns testdata/lvs-thinpool.txt: `lvs --noheadings
// --nameprefixes -o ` + LvsFields for a healthy docker-storage-setup thin
// pool, in the shape libdm's report writer prints (lvm2
// libdm/libdm-report.c, _output_field: two blanks of indentation, LVM2_
// prefix, upper-case field ids, single-quoted values). The storage checks'
// tests read the same file.
func lvsThinPool(t testing.TB) string {
	b, err := os.ReadFile("testdata/lvs-thinpool.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseLvs(t *testing.T) {
	lvsOutput := lvsThinPool(t)
	lvs, err := ParseLvs(lvsOutput)
	if err != nil || len(lvs) != 1 {
		t.Fatalf("ParseLvs = %v, %v", lvs, err)
	}
	lv := lvs[0]
	if lv["lv_name"] != "docker-pool" || lv["vg_name"] != "atomicos" || !lv.IsThinPool() {
		t.Errorf("parsed %v", lv)
	}
	if p, ok := lv.Percent("data_percent"); !ok || p != 12.34 {
		t.Errorf("data_percent %v %v", p, ok)
	}
	// --unquoted, and a thin volume (V) rather than a pool.
	lvs, err = ParseLvs("  LVM2_LV_NAME=thin LVM2_LV_ATTR=Vwi-a-tz-- LVM2_DATA_PERCENT=\n")
	if err != nil || len(lvs) != 1 || lvs[0].IsThinPool() || lvs[0]["lv_name"] != "thin" {
		t.Errorf("unquoted: %v %v", lvs, err)
	}
	if _, ok := lvs[0].Percent("data_percent"); ok {
		t.Error("an empty percentage parsed")
	}
	for _, bad := range []string{"LV Name docker-pool", "LVM2_LV_NAME='open"} {
		if _, err := ParseLvs(bad); err == nil {
			t.Errorf("ParseLvs(%q) succeeded", bad)
		}
	}
}

func FuzzParseEnvFile(f *testing.F) {
	f.Add("A=1\nB=\"x y\"\n# c\n")
	f.Add("DOCKER_STORAGE_OPTIONS=\"--storage-driver overlay2 \"\n")
	f.Add("A='x'\"y\"\\\nz")
	f.Fuzz(func(t *testing.T, s string) {
		vars, err := ParseEnvFile(s)
		if err == nil {
			for k := range vars {
				if !validName(k) {
					t.Fatalf("invalid name %q accepted", k)
				}
			}
		}
	})
}

func FuzzParseLvs(f *testing.F) {
	f.Add(lvsThinPool(f))
	f.Add("LVM2_A=b LVM2_C='d e'")
	f.Fuzz(func(t *testing.T, s string) {
		lvs, err := ParseLvs(s)
		if err == nil {
			for _, lv := range lvs {
				lv.IsThinPool()
				lv.Percent("data_percent")
			}
		}
	})
}

func FuzzUnit(f *testing.F) {
	f.Add("[Service]\nExecStart=/usr/bin/dockerd $OPTIONS \\\n  ${X} \"a b\"\nEnvironment=A=1 \"B=2 3\"\n")
	f.Add("[Service]\nExecStart=\nEnvironmentFile=-/etc/x\n")
	f.Fuzz(func(t *testing.T, s string) {
		u := &Unit{Environment: map[string]string{}}
		if err := u.parse(s); err == nil {
			if argv, err := u.Command(map[string]string{"OPTIONS": "-s x", "X": "y"}); err == nil {
				ParseFlags(argv)
			}
		}
	})
}

func FuzzParseSize(f *testing.F) {
	f.Add("11.8GB")
	f.Add("1 MiB")
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseSize(s); err == nil && v < 0 {
			t.Fatalf("negative size %g from %q", v, s)
		}
	})
}

// daemon.json as dockerd reads it (moby daemon/config/config.go,
// getConflictFreeConfiguration): a byte order mark decides the encoding,
// white space alone is an empty configuration, anything else must be one
// JSON object; an error says dockerd will not start and on which line.
func TestParseDaemonJSON(t *testing.T) {
	utf16le := []byte{0xff, 0xfe}
	for _, r := range `{"storage-driver": "vfs"}` {
		utf16le = append(utf16le, byte(r), 0)
	}
	for _, c := range []struct {
		name, data string
		driver     string
		err        string
	}{
		{"plain", `{"storage-driver": "overlay2", "log-driver": "journald"}`, "overlay2", ""},
		// Older Notepad writes UTF-8 with a BOM; dockerd drops it.
		{"utf-8 bom", "\xef\xbb\xbf{\"storage-driver\": \"vfs\"}", "vfs", ""},
		// Windows PowerShell writes UTF-16 LE with a BOM; dockerd decodes it.
		{"utf-16 bom", string(utf16le), "vfs", ""},
		// An empty file is an empty configuration, not an error.
		{"empty", "", "", ""},
		{"white space", " \n\t\n", "", ""},
		{"unfinished", "{\n  \"storage-driver\": \"overlay2\",\n", "", "not valid JSON, dockerd will not start on it: line 3: unexpected end of JSON input"},
		{"trailing comma", "{\n  \"storage-driver\": \"overlay2\",\n}\n", "", "line 3: invalid character '}' looking for beginning of object key string"},
		{"not an object", "[\"overlay2\"]", "", "line 1: json: cannot unmarshal array"},
		{"not utf-8", "{\"storage-driver\": \"\xff\"}", "", "dockerd will not start on it: not valid UTF-8"},
	} {
		f, err := ParseDaemonJSON([]byte(c.data))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
		case c.err == "" && f.Driver != c.driver:
			t.Errorf("%s: driver %q, want %q", c.name, f.Driver, c.driver)
		}
	}
}

func FuzzParseDaemonJSON(f *testing.F) {
	f.Add([]byte(`{"storage-driver": "overlay2", "storage-opts": ["overlay2.size=10G"]}`))
	f.Add([]byte("\xff\xfe{\x00}\x00"))
	f.Add([]byte("{\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseDaemonJSON(data)
	})
}

package ostree

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testdata/<csum>.commit is a commit object written by ostree 2022.7's
// `ostree commit --add-metadata-string=version=28.3`; <csum>.show-raw.txt
// is `ostree show --raw` of it, which the expectations below restate.
const testCommit = "6f21647083d6794e78587c2a58b5dacf2ab882cfb989dc352c4a384f53a1791d"

func TestParseCommitGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", testCommit+".commit"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCommit(testCommit, data)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join("testdata", testCommit+".show-raw.txt"))
	if c.Version() != "28.3" || !strings.Contains(string(raw), "{'version': <'28.3'>") {
		t.Errorf("version %q", c.Version())
	}
	if c.Parent != "599986247c5af2e6db19f7990c805f37216da6eb585f78680a12f4e1557a1b17" {
		t.Errorf("parent %s", c.Parent)
	}
	if c.Subject != "v3" || c.Body != "" {
		t.Errorf("subject %q body %q", c.Subject, c.Body)
	}
	// show --raw prints the stored (big-endian) value as uint64 1795847549
	// read in host order; the real time is its byte swap.
	if !strings.Contains(string(raw), "uint64 1795847549") || c.Timestamp != time.Date(2026, 11, 28, 6, 32, 29, 0, time.UTC) {
		t.Errorf("timestamp %s", c.Timestamp)
	}
	if c.RootContents != "eac52edccb2bff1c1b03cc7f6b7ce76e4b9ed6a3b3e01844d9a01f268947d6e2" {
		t.Errorf("root contents %s", c.RootContents)
	}
	refs := c.Metadata["ostree.ref-binding"]
	if refs.Type != "as" || !reflect.DeepEqual(refs.Value, []any{"fedora-atomic/28/x86_64/atomic-host"}) {
		t.Errorf("ref-binding %+v", refs)
	}
	if c.ClientLayer() {
		t.Error("an ostree commit counted as a client layer")
	}
	// Every truncation is an error, never a panic.
	for i := 0; i < len(data); i++ {
		if _, err := ParseCommit("cut", data[:i]); err == nil {
			t.Errorf("commit cut to %d bytes parsed", i)
		}
	}
}

// Values serialized by GLib 2.74 (Debian 12) with
// GLib.Variant(type, value).get_data_as_bytes(), written out in hex so the
// test needs no Python.
func TestDecodeGLibBytes(t *testing.T) {
	for _, tc := range []struct {
		sig  string
		hex  string
		want any
	}{
		// GLib.Variant('(tt)', (66305, 1234567))
		{"(tt)", "0103010000000000" + "87d6120000000000", []any{uint64(66305), uint64(1234567)}},
		// GLib.Variant('as', ['a', 'bc'])
		{"as", "610062630002" + "05", []any{"a", "bc"}},
		// GLib.Variant('ms', 'x') and nothing
		{"ms", "780000", "x"},
		{"ms", "", nil},
		// GLib.Variant('mi', 7)
		{"mi", "07000000", int32(7)},
		// GLib.Variant('(sb)', ('hi', True))
		{"(sb)", "6869000103", []any{"hi", true}},
		// GLib.Variant('a{sv}', {'k': GLib.Variant('u', 5)})
		{"a{sv}", "6b00000000000000050000000075" + "02" + "0f", []any{DictEntry{Key: "k", Value: Variant{Type: "u", Value: uint32(5)}}}},
		// GLib.Variant('()', ())
		{"()", "00", []any{}},
	} {
		data := mustHex(t, tc.hex)
		got, err := Decode(tc.sig, data)
		if err != nil {
			t.Errorf("%s %s: %v", tc.sig, tc.hex, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s: got %#v, want %#v", tc.sig, tc.hex, got, tc.want)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	for i := 0; i+1 < len(s); i += 2 {
		var v byte
		if _, err := fmt.Sscanf(s[i:i+2], "%02x", &v); err != nil {
			t.Fatal(err)
		}
		b = append(b, v)
	}
	return b
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ sig, hex, want string }{
		{"s", "6162", "not nul-terminated"},
		{"b", "02", "not 0 or 1"},
		{"(tt)", "01", "has 1 bytes, want 16"},
		{"as", "610009", "framing offset 9 beyond"},
		{"a{sv}", "", ""},
		{"v", "0102", "no type string separator"},
		{"v", "0000" + strings.Repeat("61", 70) + "75", "nested deeper"},
		{"a{vs}", "", "basic key"},
		{"(s", "", "missing"},
		{"z", "", "not a type character"},
	} {
		_, err := Decode(tc.sig, mustHex(t, tc.hex))
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s %s: %v", tc.sig, tc.hex, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: error %v, want %q", tc.sig, tc.hex, err, tc.want)
		}
	}
}

// The ordering glibc documents for strverscmp(3), plus what BLS versions
// look like.
func TestStrverscmp(t *testing.T) {
	ordered := []string{"000", "00", "01", "010", "09", "0", "1", "9", "10"}
	for i := range ordered {
		for j := range ordered {
			want := sign(i - j)
			if got := strverscmp(ordered[i], ordered[j]); got != want {
				t.Errorf("strverscmp(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"2", "10", -1}, {"1.2", "1.10", -1}, {"28.20180601.0", "28.20180515.1", 1},
		{"a", "b", -1}, {"", "1", -1}, {"abc", "abc", 0}, {"1a", "1", 1},
	} {
		if got := strverscmp(tc.a, tc.b); got != tc.want {
			t.Errorf("strverscmp(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestParseBootEntry(t *testing.T) {
	data, err := os.ReadFile("testdata/ostree-1-fedora-atomic.conf")
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseBootEntry("ostree-1-fedora-atomic.conf", data)
	if err != nil {
		t.Fatal(err)
	}
	if e.Version != "1" || e.Title != "Fedora 28 28.3 (ostree:1)" || len(e.Initrds) != 1 || !strings.HasSuffix(e.Linux, "/vmlinuz-5.0.0") {
		t.Errorf("%+v", e)
	}
	bl, err := ParseBootLink(e.OstreeArg())
	if err != nil || bl.OSName != "fedora-atomic" || bl.BootSerial != 1 || bl.BootVersion != 0 || len(bl.BootChecksum) != 64 {
		t.Errorf("%+v %v", bl, err)
	}
	// Tabs separate too; repeated initrd lines (overlay initrds) are kept.
	e, err = ParseBootEntry("x", []byte("# c\ntitle\tT x\ninitrd /a\ninitrd /b\noptions root=/dev/sda ostree=/ostree/boot.1/os/c/0 quiet\n"))
	if err != nil || e.Title != "T x" || len(e.Initrds) != 2 || e.OstreeArg() != "/ostree/boot.1/os/c/0" {
		t.Errorf("%+v %v", e, err)
	}
	if _, err := ParseBootEntry("empty.conf", []byte("title x\n")); err == nil || !strings.Contains(err.Error(), "empty.conf: no options and no linux line") {
		t.Errorf("error %v", err)
	}
	if _, err := ParseBootLink("/ostree/boot.2/os/c/0"); err == nil {
		t.Error("boot.2 accepted")
	}
}

func TestParseOrigin(t *testing.T) {
	// rpm-ostree's own test fixture shape (rust/src/origin.rs, COMPLEX).
	o, err := ParseOrigin("x.origin", []byte(`[origin]
baserefspec=fedora:fedora/34/x86_64/silverblue
override-commit=41af286dc0b172ed2f1ca934fd2278de4a1192302ffa07087cea2682e7d372e3

[rpmostree]
regenerate-initramfs=true
initramfs-args=-I;/etc/foobar.conf;

[packages]
requested=libvirt;fish;
requested-local=4ed748ba060fce4571e7ef19f3f5ed6209f67dbac8327af0d38ea70b96d2f723:foo-1.2-3.x86_64;

[overrides]
remove=docker;
replace-local=0c7072500af2758e7dc7d7700fed82c3c5f4da7453b4d416e79f75384eee96b0:rpm-ostree-devel-2021.1-2.fc33.x86_64;

[libostree-transient]
pinned=true
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Origin{
		BaseRefspec:            "fedora:fedora/34/x86_64/silverblue",
		OverrideCommit:         "41af286dc0b172ed2f1ca934fd2278de4a1192302ffa07087cea2682e7d372e3",
		RequestedPackages:      []string{"libvirt", "fish"},
		RequestedLocalPackages: []string{"foo-1.2-3.x86_64"},
		OverrideRemove:         []string{"docker"},
		OverrideReplaceLocal:   []string{"rpm-ostree-devel-2021.1-2.fc33.x86_64"},
		Pinned:                 true,
		File:                   o.File,
	}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("got  %+v\nwant %+v", o, want)
	}
	if o.EffectiveRefspec() != "fedora:fedora/34/x86_64/silverblue" {
		t.Errorf("refspec %q", o.EffectiveRefspec())
	}
	if got := o.File.List("rpmostree", "initramfs-args"); !reflect.DeepEqual(got, []string{"-I", "/etc/foobar.conf"}) {
		t.Errorf("list %q", got)
	}
	kf, err := ParseKeyFile("k", []byte("[g]\na = x\\sy\\;z;w\\\\;\nb=1\n"))
	if err != nil || !reflect.DeepEqual(kf.List("g", "a"), []string{"x y;z", "w\\"}) || kf.String("g", "a") != "x y;z;w\\;" {
		t.Errorf("%v %q %q", err, kf.List("g", "a"), kf.String("g", "a"))
	}
	for _, tc := range []struct{ text, want string }{
		{"[origin]\nrefspec=x\n[libostree-transient]\npinned=maybe\n", `[libostree-transient] pinned="maybe" is not a boolean`},
		{"[origin]\nfoo\n", `line 2: "foo" is not a group, key=value pair or comment`},
		{"[origin\n", `line 1: "[origin" is not a valid group header`},
		{"[origin]\nunlocked=hotfix\n", "no refspec, baserefspec or container-image-reference"},
	} {
		if _, err := ParseOrigin("bad.origin", []byte(tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.origin") {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}

func FuzzParseBootEntry(f *testing.F) {
	data, _ := os.ReadFile("testdata/ostree-1-fedora-atomic.conf")
	f.Add(data)
	f.Add([]byte("options ostree=/ostree/boot.1/a/b/0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseBootEntry("fuzz", b)
		if err == nil {
			_, _ = ParseBootLink(e.OstreeArg())
		}
	})
}

func FuzzParseOrigin(f *testing.F) {
	f.Add([]byte("[origin]\nrefspec=a:b\n[packages]\nrequested=x;y\\;z;\n[libostree-transient]\npinned=true\n"))
	f.Add([]byte("[origin]\nbaserefspec=x\n# c\n[overrides]\nremove=a;\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOrigin("fuzz", b)
		if err == nil && o.EffectiveRefspec() == "" {
			t.Fatalf("parsed origin without a refspec: %q", b)
		}
		_ = o.LayeredPackages()
	})
}

func FuzzParseCommit(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", testCommit+".commit"))
	f.Add(data)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommit("fuzz", b)
		if err == nil {
			_ = c.Version()
			_ = c.ClientLayer()
		}
		_, _ = DecodeVarDict(b)
	})
}

// Arbitrary type strings with arbitrary data: errors, never panics (type
// strings also arrive inside variants, from the data itself).
func FuzzDecode(f *testing.F) {
	f.Add("a{sv}", mustHexF("6b00000000000000050000000075020f"))
	f.Add("(tt)", mustHexF("010301000000000087d6120000000000"))
	f.Add("mv", []byte{0, 0, 'u'})
	f.Add("(a{sv}aya(say)sstayay)", []byte{})
	f.Fuzz(func(t *testing.T, sig string, data []byte) {
		_, _ = Decode(sig, data)
	})
}

func mustHexF(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		fmt.Sscanf(s[2*i:2*i+2], "%02x", &b[i])
	}
	return b
}

// The deployments section of status escapes what a sysroot supplies.
// Repro (issue 17 item 7): the old WriteStatus printed the ESC and the
// carriage return of a commit's version and a problem as they were.
func TestWriteStatusEscapesControls(t *testing.T) {
	s := &Sysroot{
		Deployments: []*Deployment{{OSName: "os", Checksum: "c", Unlocked: "hotfix\x1b[2J",
			Commit: &Commit{Metadata: VarDict{"version": {Type: "s", Value: "28\r\x1b[31mPASS"}}}}},
		Problems: []string{"bad\x1b]0;title\x07"},
	}
	var b strings.Builder
	if err := WriteStatus(&b, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\r\x07") {
		t.Errorf("control characters in:\n%q", out)
	}
	for _, want := range []string{`28\r\x1b[31mPASS`, `hotfix\x1b[2J`, `bad\x1b]0;title\a`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

package probe

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAndVerify(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString("noise before\n")
	m := Marker{Magic: Magic, Nonce: "abc", PID: 1, Hostname: "probe", RootReadOnly: true, Interfaces: []string{}}
	if err := Write(&buf, m); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if p := Verify(got, Want{Nonce: "abc", ReadOnly: true, NoNetwork: true, Hostname: "probe"}); p != nil {
		t.Fatalf("unexpected problems: %v", p)
	}
	bad := Marker{Magic: Magic, Nonce: "zzz", PID: 7, RootReadOnly: false, Interfaces: []string{"eth0"}}
	p := Verify(bad, Want{Nonce: "abc", ReadOnly: true, NoNetwork: true})
	want := []string{"nonce", "pid 7", "writable", "eth0"}
	if len(p) != len(want) {
		t.Fatalf("got %d problems %q, want %d", len(p), p, len(want))
	}
	for i, w := range want {
		if !strings.Contains(p[i], w) {
			t.Errorf("problem %d = %q, want it to mention %q", i, p[i], w)
		}
	}
	if _, err := Parse([]byte("no marker here\n")); err == nil {
		t.Fatal("Parse without a marker succeeded")
	}
	if _, err := Parse([]byte(`{"magic":"` + Magic + `", garbled` + "\n")); err == nil || !strings.Contains(err.Error(), "garbled") {
		t.Fatalf("garbled marker: err = %v", err)
	}
}

func TestInspectOutsideContainer(t *testing.T) {
	m := Inspect("n1", "v")
	if m.Nonce != "n1" || m.Magic != Magic || m.PID != os.Getpid() {
		t.Fatalf("Inspect = %+v", m)
	}
	// Outside a container the test is not pid 1: Verify must say so.
	if p := Verify(m, Want{Nonce: "n1"}); len(p) != 1 || !strings.Contains(p[0], "pid") {
		t.Fatalf("Verify outside a container = %q, want one pid problem", p)
	}
}

func TestWriteLayer(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(bin, []byte("#!binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := WriteLayer(&a, bin); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayer(&b, bin); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the layer is not reproducible")
	}
	tr := tar.NewReader(&a)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "atomic-selftest" || h.Mode != 0o755 {
		t.Fatalf("entry %q mode %o", h.Name, h.Mode)
	}
	data, _ := io.ReadAll(tr)
	if string(data) != "#!binary" {
		t.Fatalf("content %q", data)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Fatalf("more than one entry: %v", err)
	}
	if err := WriteLayer(io.Discard, filepath.Dir(bin)); err == nil {
		t.Fatal("a directory was accepted as the probe binary")
	}
}

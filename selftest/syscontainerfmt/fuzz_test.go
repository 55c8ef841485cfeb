package syscontainerfmt

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// The info and state parsers never panic.
func FuzzParseInfo(f *testing.F) {
	// An info file as the atomic CLI writes it (indent 4).
	f.Add([]byte("{\n    \"image\": \"registry.fedoraproject.org/f28/etcd:latest\",\n    \"revision\": \"6f1c\",\n    \"has-container-service\": true\n}"))
	f.Add([]byte(`{"image": 3}`))
	f.Add([]byte(`{"id": "etcd", "init_process_pid": 42, "init_process_start": 7, "created": "2026-11-28T06:48:02.302408189Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if i, err := ParseInfo(b); err == nil && i.Image == "" {
			t.Fatal("an info without an image parsed")
		}
		if s, err := ParseRuncState(b); err == nil && s.PID <= 0 {
			t.Fatal("a state without a pid parsed")
		}
	})
}

// Decoding an encoded ASCII name gives back the atomic CLI's full name.
func FuzzOstreeRef(f *testing.F) {
	for _, s := range []string{"busybox", "docker.io/busybox:1", "localhost:5000/a/b@sha256:00", "a_b%c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := EncodeOstreeRef(s)
		dec := DecodeOstreeRef(enc)
		full := fullName(strings.TrimPrefix(s, "sha256:"))
		ascii := true
		for _, r := range full {
			ascii = ascii && r < utf8.RuneSelf
		}
		if ascii && dec != full {
			t.Fatalf("decode(encode(%q)) = %q, want %q", s, dec, full)
		}
	})
}

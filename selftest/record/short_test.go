package record

import "testing"

func TestShort(t *testing.T) {
	for in, want := range map[string]string{
		"38b7347db2ce85094e896ead996a4b07498b89df0eeba0dc41df5def4d3c6e30": "38b7347db2…",
		"sha256:0123456789abcdef": "0123456789…",
		"0123456789":              "0123456789", // exactly 10: nothing cut
		"":                        "",
	} {
		if got := Short(in); got != want {
			t.Errorf("Short(%q) = %q, want %q", in, got, want)
		}
	}
}

package record

import "testing"

func TestLabelAndFailures(t *testing.T) {
	for _, c := range []struct {
		d    *Deployment
		want string
	}{
		{nil, "an unknown deployment"},
		{&Deployment{Checksum: "abcdef0123456789"}, "abcdef0123…"},
		{&Deployment{Checksum: "abcdef0123456789", Version: "12.3"}, "12.3 (abcdef0123…)"},
	} {
		if got := c.d.Label(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.d, got, c.want)
		}
	}
	for _, c := range []struct {
		h    *Health
		want string
	}{
		{nil, "required checks failed"},
		{&Health{Reason: "already rolled back"}, "already rolled back"},
		// Only the first line of the first failure's message, and a count.
		{&Health{Failing: []FailingCheck{{ID: "runtime.run", Message: "exit 1\nstack"}, {ID: "a.b"}}}, "runtime.run failed: exit 1 (and 1 more)"},
	} {
		if got := c.h.Failures(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.h, got, c.want)
		}
	}
}

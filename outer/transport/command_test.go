package transport

import "testing"

func TestQuoteArgv(t *testing.T) {
	got, err := QuoteArgv([]string{"ostree", "admin", "deploy", "it's", "", "a b", "--os=x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `ostree admin deploy 'it'\''s' '' 'a b' --os=x`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, err := QuoteArgv([]string{"x", "a\x00b"}); err == nil {
		t.Error("NUL accepted")
	}
	if _, err := QuoteArgv(nil); err == nil {
		t.Error("empty argv accepted")
	}
}

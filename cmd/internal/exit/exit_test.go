package exit

import (
	"errors"
	"fmt"
	"testing"
)

func TestCodeOf(t *testing.T) {
	base := errors.New("bad flag")
	for _, tc := range []struct {
		err          error
		code         int
		silent, isOK bool
	}{
		{Wrap(2, base), 2, false, true},
		{fmt.Errorf("context: %w", Errorf(4, "no space")), 4, false, true}, // found through wrapping
		{Status(1), 1, true, true},                                         // already reported: print nothing
		{base, 0, false, false},                                            // not an exit error: main decides
	} {
		code, silent, ok := CodeOf(tc.err)
		if code != tc.code || silent != tc.silent || ok != tc.isOK {
			t.Errorf("%v: got %d %v %v, want %d %v %v", tc.err, code, silent, ok, tc.code, tc.silent, tc.isOK)
		}
	}
	if !errors.Is(Wrap(2, base), base) {
		t.Errorf("Wrap hides the error it wraps")
	}
}

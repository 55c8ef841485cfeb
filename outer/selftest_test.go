package outer

import (
	"path"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// The driver finds a boot's records by name without importing the
// store; the name is the store's.
func TestRunPatternMatchesTheStore(t *testing.T) {
	for _, boot := range []string{"0f3c2a9b8d7e4f60a1b2c3d4e5f60718", "short"} {
		rec := &record.Record{BootID: boot, Start: time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)}
		if ok, err := path.Match(runPattern(boot), store.RunName(rec)); !ok || err != nil {
			t.Errorf("%s does not match %s (%v)", runPattern(boot), store.RunName(rec), err)
		}
	}
}

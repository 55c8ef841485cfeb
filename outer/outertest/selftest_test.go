package outertest

import (
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// The simulated self-test names its records as the real store does, so
// the driver's search by name is tested against the real names.
func TestSimulatedRecordNamesAreTheStores(t *testing.T) {
	for _, boot := range []string{"0f3c2a9b8d7e4f60a1b2c3d4e5f60718", "short"} {
		rec := &record.Record{BootID: boot, Start: time.Date(2026, 12, 7, 20, 0, 0, 123456789, time.UTC)}
		if got, want := runName(rec), store.RunName(rec); got != want {
			t.Errorf("boot %q: %s, the store says %s", boot, got, want)
		}
	}
}

package journal

import (
	"context"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/journalhost"
	sdjournal "github.com/atomic-selftest/atomic-selftest/selftest/journal"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "journal.stalls",
		Criterion:   "HOST",
		Required:    false,
		Description: "the kernel saw no soft lockup, RCU stall or hung task this boot (a starved or overloaded machine as much as a bad release)",
		Timeout:     90 * time.Second,
		Applies:     journalhost.NeedJournalctl,
		Run:         checkStalls,
	})
}

// checkStalls reads this boot's journal for the signals of kind "stall"
// (selftest/journal's table names each with its sender and its peer).
func checkStalls(ctx context.Context, t *selftest.T) {
	journalhost.Check(ctx, t, sdjournal.KindStall)
}

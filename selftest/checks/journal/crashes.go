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
		ID:          "journal.crashes",
		Criterion:   "HOST",
		Required:    false,
		Description: "no process dumped core or segfaulted, no system service panicked and the OOM killer did not run this boot",
		Timeout:     90 * time.Second,
		Applies:     journalhost.NeedJournalctl,
		Run:         checkCrashes,
	})
}

// checkCrashes reads this boot's journal for the signals of kind "crash"
// (selftest/journal's table names each with its sender and its peer).
func checkCrashes(ctx context.Context, t *selftest.T) {
	journalhost.Check(ctx, t, sdjournal.KindCrash)
}

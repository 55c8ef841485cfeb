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
		ID:          "journal.kernel",
		Criterion:   "HOST",
		Required:    true,
		Description: "the kernel logged no panic, oops, BUG, warning, hard lockup, I/O or file system error this boot",
		Timeout:     90 * time.Second,
		Applies:     journalhost.NeedJournalctl,
		Run:         checkKernel,
	})
}

// checkKernel reads this boot's journal for the signals of kind "kernel"
// (selftest/journal's table names each with its sender and its peer).
func checkKernel(ctx context.Context, t *selftest.T) {
	journalhost.Check(ctx, t, sdjournal.KindKernel)
}

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
		ID:          "journal.boot",
		Criterion:   "HOST",
		Required:    true,
		Description: "this boot reached no emergency or rescue shell, no dracut fatal error, no ordering cycle and no failed generator",
		Timeout:     90 * time.Second,
		Applies:     journalhost.NeedJournalctl,
		Run:         checkBoot,
	})
}

// checkBoot reads this boot's journal for the signals of kind "boot"
// (selftest/journal's table names each with its sender and its peer).
func checkBoot(ctx context.Context, t *selftest.T) {
	journalhost.Check(ctx, t, sdjournal.KindBoot)
}

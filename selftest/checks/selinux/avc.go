package selinux

import (
	"context"
	"strconv"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/journalhost"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/selinuxhost"
	"github.com/atomic-selftest/atomic-selftest/selftest/journal"
	"github.com/atomic-selftest/atomic-selftest/selftest/selinuxfmt"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "selinux.avc",
		Criterion:   "HOST",
		Required:    false,
		Description: "SELinux denied nothing this boot (AVC denials in the journal, from the kernel's audit records only)",
		Timeout:     90 * time.Second,
		Applies: func(ctx context.Context, rc *selftest.RunContext) string {
			if why := selinuxhost.NeedRunning(ctx, rc); why != "" {
				return why
			}
			return journalhost.NeedJournalctl(ctx, rc)
		},
		Run: checkAVC,
	})
}

// checkAVC reads this boot's audit records as journald got them from the
// kernel's audit socket (_TRANSPORT=audit), and the kernel's printk of
// them where no audit daemon took them (_TRANSPORT=kernel, "audit:
// type=1400"): both come from the kernel, or from a process allowed to
// write audit records, never from a user's logger. The same denial seen
// both ways counts once. [journal] allow lets known denials pass.
func checkAVC(ctx context.Context, t *selftest.T) {
	allow, err := t.Config.Journal.AllowPatterns()
	if err != nil {
		t.Error("%v", err)
		return
	}
	seen := map[string]bool{}
	var problems []string
	var hits []journal.Hit
	allowed := 0
	for _, q := range [][]string{journal.QueryAudit, journal.QueryKernel} {
		r, ok := journalhost.ReadBoot(ctx, t, q)
		if !ok {
			return
		}
		for _, e := range r.Entries {
			line := journal.Line(e)
			a, ok := selinuxfmt.ParseAVC(line)
			if !ok || !a.Denied || seen[a.PID+" "+a.String()] {
				continue
			}
			seen[a.PID+" "+a.String()] = true
			if journal.Allowed(allow, line) {
				allowed++
				continue
			}
			h := journal.NewHit("AVC denial", e)
			h.Message = a.String()
			hits = append(hits, h)
			if len(problems) < 10 {
				t.Evidence("AVC denial", "none this boot", h.String())
				problems = append(problems, h.String())
			}
		}
	}
	if len(hits) > len(problems) {
		problems = append(problems, strconv.Itoa(len(hits)-len(problems))+" more in the details")
	}
	if len(hits) > 0 {
		t.Detail("denials", hits)
	}
	t.Detail("allowed", allowed)
	t.ConcludeWith(strconv.Itoa(len(hits))+" AVC denial(s) this boot: ", problems, "SELinux denied nothing this boot (%d allowed by journal.allow)", allowed)
}

// Package journalhost is what the journal.* checks share: reading this
// boot's journal for one kind of signal (selftest/journal's table) with
// the configuration's cap and allow-list, and the one verdict that names
// every hit with its time and unit.
package journalhost

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/journal"
)

// maxNamed bounds the hits a failure message names; the details keep
// them all.
const maxNamed = 10

// NeedJournalctl is the applicability test of a check that reads the
// journal: journalctl must be installed.
func NeedJournalctl(_ context.Context, rc *selftest.RunContext) string {
	if _, ok := rc.Commands.(selftest.ExecCommander); ok {
		if _, err := exec.LookPath("journalctl"); err != nil {
			return "journalctl is not installed: this host keeps no systemd journal to read"
		}
	}
	return ""
}

// Check reads this boot's journal for the signals of kind k and gives t
// its verdict: a failure naming each hit ("time signal (unit): line"), or
// a pass saying what was read.
func Check(ctx context.Context, t *selftest.T, k journal.Kind) {
	allow, err := t.Config.Journal.AllowPatterns()
	if err != nil {
		t.Error("%v", err)
		return
	}
	var (
		hits    []journal.Hit
		allowed int
		read    int
		names   []string
	)
	for _, sigs := range journal.Queries(journal.OfKind(k)) {
		q, ok := ReadBoot(ctx, t, sigs[0].Query)
		if !ok {
			return
		}
		read += len(q.Entries)
		if q.Capped {
			t.Evidence(strings.Join(sigs[0].Query, " "), "", "read the newest "+strconv.Itoa(len(q.Entries))+" entries of this boot (journal.max_entries); older ones were not scanned")
		}
		s := journal.Scan(q.Entries, sigs, allow)
		hits = append(hits, s.Hits...)
		allowed += s.Allowed
	}
	for _, s := range journal.OfKind(k) {
		names = appendOnce(names, s.Name)
	}
	t.Detail("entries_read", read)
	t.Detail("allowed", allowed)
	if len(hits) > 0 {
		t.Detail("hits", hits)
	}
	var problems []string
	for i, h := range hits {
		if i == maxNamed {
			problems = append(problems, strconv.Itoa(len(hits)-maxNamed)+" more in the details")
			break
		}
		t.Evidence(h.Signal, "none this boot", h.String())
		problems = append(problems, h.String())
	}
	note := ""
	if allowed > 0 {
		note = "; " + strconv.Itoa(allowed) + " allowed by journal.allow"
	}
	t.ConcludeWith(strconv.Itoa(len(hits))+" in this boot's journal: ", problems,
		"none in %d entries read from this boot's journal (%s)%s", read, strings.Join(names, ", "), note)
}

// ReadBoot reads this boot's entries that query matches, with the
// configuration's cap. When it cannot, it gives t its verdict (a skip
// when the journal does not hold this boot, else an error) and returns
// false.
func ReadBoot(ctx context.Context, t *selftest.T, query []string) (journal.BootQuery, bool) {
	q, err := journal.ReadBoot(ctx, t.Host.Run, t.Host.BootID, query, t.Config.Journal.MaxEntries)
	var ee *selftest.ExitError
	switch {
	case errors.As(err, &ee) && BootMissing(ee.Stderr):
		t.Skip("this boot is not in the journal (a volatile journal, or rotated away): journalctl says %q", strings.TrimSpace(ee.Stderr))
		return q, false
	case err != nil:
		t.Error("%v", err)
		return q, false
	}
	return q, true
}

// BootMissing says whether journalctl's error is that the boot is not in
// the journal: "No such boot ID in journal" (systemd 252), "No journal
// boot entry found" (older ones).
func BootMissing(stderr string) bool {
	return strings.Contains(stderr, "No such boot ID in journal") || strings.Contains(stderr, "No journal boot entry found")
}

func appendOnce(list []string, s string) []string {
	for _, l := range list {
		if l == s {
			return list
		}
	}
	return append(list, s)
}

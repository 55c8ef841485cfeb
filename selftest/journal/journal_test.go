package journal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/journal"
	"github.com/atomic-selftest/atomic-selftest/selftest/journal/journaltest"
)

const bootID = "3d1c5a0e8a524f7e9a4b2e6c0f1d7b93"

var ignition = journal.Source{UID: "0", Transport: "journal", Unit: "ignition-files.service"}

// entry is an entry with Ignition's key-write MESSAGE_ID, message msg and
// a sender's trusted fields: uid, transport, unit ("" for none).
func entry(msg, uid, transport, unit string) map[string]string {
	e := map[string]string{"MESSAGE": msg, "MESSAGE_ID": "225067b87bbd4a0cb6ab151f82fa364b", "_UID": uid, "_TRANSPORT": transport, "_COMM": "x"}
	if unit != "" {
		e["_SYSTEMD_UNIT"] = unit
	}
	return e
}

// TestSourceOnARealJournal: a journal holding Ignition's entry and
// forgeries of it (a user's `logger --journald`, root's syslog, root in
// another unit), read by the real journalctl with Source's matches and
// filtered by ParseJSON: only Ignition's entry is left. Without the
// source's matches and filter, journalctl prints all four.
func TestSourceOnARealJournal(t *testing.T) {
	file := journaltest.File(t, bootID,
		entry("genuine", "0", "journal", "ignition-files.service"),
		entry("user logger --journald", "1000", "journal", "user@1000.service"),
		entry("root syslog", "0", "syslog", "ignition-files.service"),
		entry("root elsewhere", "0", "journal", "sshd.service"),
	)
	c := journaltest.Commander{File: file}
	ctx := context.Background()
	all, _, err := c.Command(ctx, 10*time.Second, "journalctl", "--no-pager", "--output=json", "MESSAGE_ID=225067b87bbd4a0cb6ab151f82fa364b")
	if err != nil {
		t.Fatal(err)
	}
	if es, err := journal.ParseJSON(all, journal.Source{}); err != nil || len(es) != 4 {
		t.Fatalf("unfiltered: %d entries, %v", len(es), err)
	}
	// The filter alone, on everything journalctl printed.
	es, err := journal.ParseJSON(all, ignition)
	if err != nil || len(es) != 1 || es[0]["MESSAGE"] != "genuine" {
		t.Fatalf("filtered: %v %v", es, err)
	}
	// The matches alone, in journalctl.
	argv := append([]string{"journalctl", "--no-pager", "--output=json", "MESSAGE_ID=225067b87bbd4a0cb6ab151f82fa364b"}, ignition.Matches()...)
	out, _, err := c.Command(ctx, 10*time.Second, argv...)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; n != 1 || !strings.Contains(string(out), `"genuine"`) {
		t.Fatalf("journalctl with %v printed %d entries: %s", ignition.Matches(), n, out)
	}
}

// TestParseJSON: fields that are not one string are not trusted (a
// trusted field journalctl prints as an array), the output is bounded, and
// a line that is not JSON is an error.
func TestParseJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int
		err      string
	}{
		{"trusted", `{"_UID":"0","_TRANSPORT":"journal","_SYSTEMD_UNIT":"ignition-files.service"}`, 1, ""},
		{"uid as an array", `{"_UID":["0","1000"],"_TRANSPORT":"journal","_SYSTEMD_UNIT":"ignition-files.service"}`, 0, ""},
		{"no unit", `{"_UID":"0","_TRANSPORT":"journal"}`, 0, ""},
		{"not json", "{\n", 0, "journalctl printed a line that is not JSON"},
	} {
		es, err := journal.ParseJSON([]byte(tc.in+"\n"), ignition)
		if len(es) != tc.n || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %d entries, %v", tc.name, len(es), err)
		}
	}
	line := `{"_UID":"0","_TRANSPORT":"journal","_SYSTEMD_UNIT":"ignition-files.service"}` + "\n"
	big := strings.Repeat(line, journal.MaxOutput/len(line)+100)
	es, err := journal.ParseJSON([]byte(big), ignition)
	if err != nil || len(es) != journal.MaxOutput/len(line) {
		t.Errorf("past the limit: %d entries, %v", len(es), err)
	}
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`{"_UID":"0","_TRANSPORT":"journal","_SYSTEMD_UNIT":"ignition-files.service"}` + "\n{}\n[1]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, _ := journal.ParseJSON(data, ignition)
		for _, e := range es {
			if !ignition.Trusted(e) {
				t.Fatalf("untrusted entry returned: %v", e)
			}
		}
	})
}

// FuzzScan: no entry makes Scan or Line panic, and a hit always names a
// signal of the table.
func FuzzScan(f *testing.F) {
	f.Add("kernel", "WARNING: CPU: 0 PID: 1 at x", "kernel", "0", "1")
	f.Add("journal", "Found ordering cycle on a", "systemd", "0", "1")
	f.Fuzz(func(t *testing.T, transport, msg, ident, uid, pid string) {
		e := journal.Entry{"_TRANSPORT": transport, "MESSAGE": msg, "SYSLOG_IDENTIFIER": ident, "_UID": uid, "_PID": pid}
		s := journal.Scan([]journal.Entry{e}, journal.Signals, nil)
		for _, h := range s.Hits {
			if h.Signal == "" || h.Message != journal.Line(e) {
				t.Fatalf("hit %+v", h)
			}
		}
	})
}

package report

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/notice"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

func sampleRecord() *record.Record {
	checks := []record.Result{
		{ID: "host.boot", Criterion: "C1", Required: true, Status: record.StatusPass, Message: "ok"},
		{ID: "runtime.run", Criterion: "C8", Required: true, Status: record.StatusFail, Message: "container exited 1\nsecond line"},
		{ID: "cloudinit.sshkey", Criterion: "C7", Required: false, Status: record.StatusFail, Message: "key missing"},
	}
	return &record.Record{ID: "run-x", BootID: "b00t", Trigger: "boot", Checks: checks, Summary: record.Summarise(checks),
		Deployment: &record.Deployment{OSName: "fedora-atomic", Checksum: "0123456789abcdef", Version: "28.20180515.1"}}
}

func TestSummaryLine(t *testing.T) {
	got := SummaryLine(sampleRecord())
	want := "atomic-selftest: FAIL (1 passed, 2 failed, 0 skipped); failed: runtime.run; warnings: cloudinit.sshkey; booted fedora-atomic 28.20180515.1"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// With checks beyond the release criteria, the line says which group
// failed: here the site's, while the release criteria pass.
func TestSummaryLineGroups(t *testing.T) {
	checks := []record.Result{
		{ID: "host.boot", Criterion: "C1", Required: true, Status: record.StatusPass},
		{ID: "site.10-app", Criterion: "SITE", Required: true, Status: record.StatusFail},
	}
	rec := &record.Record{Checks: checks, Summary: record.Summarise(checks)}
	want := "atomic-selftest: FAIL (1 passed, 1 failed, 0 skipped); release criteria PASS, site checks FAIL; failed: site.10-app"
	if got := SummaryLine(rec); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// The summary line goes to the motd, shown at login: a version with an
// ESC and a carriage return is escaped. Repro (issue 17 item 7): the old
// line carried them raw.
func TestSummaryLineEscapesControls(t *testing.T) {
	rec := sampleRecord()
	rec.Deployment.Version = "28\r\x1b[32mPASS"
	got := SummaryLine(rec)
	if strings.ContainsAny(got, "\r\x1b") || !strings.HasSuffix(got, `booted fedora-atomic 28\r\x1b[32mPASS`) {
		t.Errorf("got %q", got)
	}
}

func TestMotd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "motd.d", "atomic-selftest")
	if err := Emit(sampleRecord(), Options{MotdPath: path}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "atomic-selftest: FAIL") || !strings.Contains(string(b), "atomic-selftest status") {
		t.Errorf("motd: %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("motd mode %v", fi.Mode().Perm())
	}
}

// An automatic rollback nobody acknowledged leads the motd, on every
// boot, until `atomic-selftest ack`.
func TestMotdRollbackBanner(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 3, 10, 0, 0, time.UTC)
	rb := sampleRecord()
	rb.Schema, rb.Start, rb.End = record.SchemaVersion, at, at.Add(time.Second)
	rb.Health = &record.Health{Policy: "rollback", Action: record.HealthRollback, Attempt: 1, MaxAttempts: 1, DecidedAt: at,
		From: rb.Deployment, To: &record.Deployment{OSName: "fedora-atomic", Checksum: "fedcba9876543210", Version: "28.20180501.0"},
		Failing: []record.FailingCheck{{ID: "runtime.run", Message: "container exited 1"}}}
	if _, err := st.SaveRun(rb); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "atomic-selftest")
	motd := func() []string {
		t.Helper()
		pending, err := notice.Pending(st)
		if err != nil {
			t.Fatal(err)
		}
		if err := Emit(sampleRecord(), Options{MotdPath: path, Banner: notice.MotdLines(pending)}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	lines := motd()
	want := "atomic-selftest: rolled back from 28.20180515.1 (0123456789…) to 28.20180501.0 (fedcba9876…) on 2026-12-07 03:10 UTC: runtime.run failed: container exited 1"
	if len(lines) != 4 || lines[0] != want || !strings.Contains(lines[1], "atomic-selftest ack") || !strings.HasPrefix(lines[2], "atomic-selftest: FAIL") {
		t.Fatalf("motd %q, want first %q", lines, want)
	}
	if rec, err := notice.Acknowledge(context.Background(), dir, "b00t", time.Second, at.Add(time.Hour)); err != nil || rec == nil {
		t.Fatalf("ack: %v %v", rec, err)
	}
	// RefreshMotd (what `ack` calls) drops the banner from the motd at once.
	if err := RefreshMotd(path, dir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "rolled back") || !strings.HasPrefix(string(b), "atomic-selftest: FAIL") {
		t.Errorf("motd refreshed after ack %q", b)
	}
	if lines := motd(); len(lines) != 2 || !strings.HasPrefix(lines[0], "atomic-selftest: FAIL") {
		t.Errorf("motd after ack %q", lines)
	}
	// Reports off: no motd file, and RefreshMotd makes none.
	none := filepath.Join(t.TempDir(), "none")
	if err := RefreshMotd(none, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(none); !os.IsNotExist(err) {
		t.Errorf("RefreshMotd created %s: %v", none, err)
	}
}

// parseNative decodes one datagram of journald's native protocol
// (systemd.journal-fields(7), "Native Journal Protocol"): KEY=value lines,
// or KEY\n + 64-bit little-endian length + value + \n for binary values.
func parseNative(b []byte) map[string]string {
	out := map[string]string{}
	for len(b) > 0 {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			break
		}
		line := b[:nl]
		if eq := bytes.IndexByte(line, '='); eq >= 0 {
			out[string(line[:eq])] = string(line[eq+1:])
			b = b[nl+1:]
			continue
		}
		n := binary.LittleEndian.Uint64(b[nl+1 : nl+9])
		out[string(line)] = string(b[nl+9 : nl+9+int(n)])
		b = b[nl+9+int(n)+1:]
	}
	return out
}

// TestJournalEntries listens on journald's socket path, as journald would,
// and checks one structured entry per check plus the summary.
func TestJournalEntries(t *testing.T) {
	testutil.NeedRoot(t)
	const sock = "/run/systemd/journal/socket"
	_, err := os.Stat(sock)
	testutil.Need(t, "journal-capture", os.IsNotExist(err), "a real journald owns "+sock)
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); os.Remove(sock) })
	rec := sampleRecord()
	if err := Emit(rec, Options{Journal: true}); err != nil {
		t.Fatal(err)
	}
	var entries []map[string]string
	buf := make([]byte, 1<<16)
	for len(entries) < len(rec.Checks)+1 {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("after %d entries: %v", len(entries), err)
		}
		// Other programs on this machine (ostree in a parallel test) log
		// to the same socket while it exists: keep this run's entries.
		if e := parseNative(buf[:n]); e["ATOMIC_SELFTEST_RUN"] == rec.ID {
			entries = append(entries, e)
		}
	}
	for i, c := range rec.Checks {
		e := entries[i]
		if e["MESSAGE_ID"] != CheckMessageID || e["ATOMIC_SELFTEST_CHECK"] != c.ID || e["ATOMIC_SELFTEST_STATUS"] != string(c.Status) || e["ATOMIC_SELFTEST_CRITERION"] != c.Criterion {
			t.Errorf("entry %d: %v", i, e)
		}
	}
	// A required failure is logged at err (3), a wanted one at warning (4).
	if entries[1]["PRIORITY"] != "3" || entries[2]["PRIORITY"] != "4" {
		t.Errorf("priorities %q %q", entries[1]["PRIORITY"], entries[2]["PRIORITY"])
	}
	if !strings.Contains(entries[1]["MESSAGE"], "second line") {
		t.Errorf("multi-line message lost: %q", entries[1]["MESSAGE"])
	}
	sum := entries[len(entries)-1]
	if sum["MESSAGE_ID"] != SummaryMessageID || sum["ATOMIC_SELFTEST_OK"] != "false" || sum["MESSAGE"] != SummaryLine(rec) {
		t.Errorf("summary entry: %v", sum)
	}
}

func TestNotifyStatus(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	if err := Emit(sampleRecord(), Options{Notify: true}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "STATUS="+SummaryLine(sampleRecord()) {
		t.Errorf("sd_notify sent %q", got)
	}
}

// A deadline run's motd says the boot missed its deadline and names the
// units it waited for, not atomic-selftest's own waiting job (issue 31).
func TestMotdMissedDeadline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "motd.d", "atomic-selftest")
	rec := sampleRecord()
	rec.Trigger = record.TriggerDeadline
	rec.Deadline = &record.Deadline{Bound: "3m0s", UptimeSec: 181, Jobs: []record.Job{
		{ID: 97, Unit: "testbed-hang.service", Type: "start", State: "running", ForSec: 150},
		{ID: 140, Unit: "atomic-selftest.service", Type: "start", State: "waiting", ForSec: 181, WaitingFor: []string{"multi-user.target"}},
		{ID: 2, Unit: "multi-user.target", Type: "start", State: "waiting", ForSec: 181, WaitingFor: []string{"testbed-hang.service"}},
	}}
	if err := Emit(rec, Options{MotdPath: path}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "\natomic-selftest: this boot missed its deadline (3m0s after it started); it waited for testbed-hang.service start running for 2m30s; " +
		"multi-user.target start waiting for 3m1s (after testbed-hang.service)\n"
	if !strings.Contains(string(b), want) {
		t.Errorf("motd:\n%s\nwant the line %q", b, want)
	}
}

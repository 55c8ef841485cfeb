// Package report tells the system about a finished run: one structured
// journal entry per check plus a summary entry with a fixed MESSAGE_ID
// (systemd's native journal protocol, through go-systemd's pure-Go
// journal package), sd_notify(3) STATUS= for `systemctl status`, and a
// one-line summary in /run/motd.d/ for the next login, in the spirit of
// greenboot's boot status line. WriteTextfile publishes a saved run to
// node_exporter's textfile collector.
package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/coreos/go-systemd/v22/journal"

	"github.com/atomic-selftest/atomic-selftest/selftest/notice"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// Journal MESSAGE_IDs (sd-id128), fixed so `journalctl MESSAGE_ID=` finds
// every run's entries.
const (
	SummaryMessageID = "4d0b5c3f3c8e4a8e9a3f6a1d2b7c9e01"
	CheckMessageID   = "4d0b5c3f3c8e4a8e9a3f6a1d2b7c9e02"
)

// DefaultMotdPath is where the login summary goes.
const DefaultMotdPath = "/run/motd.d/atomic-selftest"

// Options says where to report. The zero value reports nowhere.
type Options struct {
	// Journal sends entries when the journal socket is there.
	Journal bool
	// Notify sends sd_notify STATUS= when NOTIFY_SOCKET is set.
	Notify bool
	// MotdPath, if set, receives the one-line summary.
	MotdPath string
	// Banner, if set, leads the motd: the lines of an automatic rollback
	// nobody has acknowledged yet (selftest/notice), from the records the
	// session read.
	Banner []string
}

// Live returns the options for a run on the live host.
func Live() Options {
	return Options{Journal: true, Notify: true, MotdPath: DefaultMotdPath}
}

// Emit reports rec. Failures to report are returned joined; they never
// change the run's outcome.
func Emit(rec *record.Record, o Options) error {
	var errs []error
	if o.Journal && journal.Enabled() {
		if err := sendJournal(rec); err != nil {
			errs = append(errs, fmt.Errorf("journal: %w", err))
		}
	}
	if o.Notify {
		if _, err := daemon.SdNotify(false, "STATUS="+SummaryLine(rec)); err != nil {
			errs = append(errs, fmt.Errorf("sd_notify: %w", err))
		}
	}
	if o.MotdPath != "" {
		if err := writeMotd(o.MotdPath, rec, o.Banner); err != nil {
			errs = append(errs, fmt.Errorf("motd: %w", err))
		}
	}
	return errors.Join(errs...)
}

// SummaryLine is the one line that describes a run everywhere a line is
// all there is room for.
func SummaryLine(rec *record.Record) string {
	s := rec.Summary
	var b strings.Builder
	if s.OK {
		b.WriteString("atomic-selftest: PASS")
	} else {
		b.WriteString("atomic-selftest: FAIL")
	}
	fmt.Fprintf(&b, " (%d passed, %d failed, %d skipped", s.Passed, s.Failed+s.Errors+s.Blocked, s.Skipped)
	b.WriteString(")")
	// Which of the release criteria, the host's health and the site's
	// checks failed, where there is more than the release criteria.
	if len(s.Groups) > 1 || (len(s.Groups) == 1 && s.Groups[0].Group != record.GroupRelease) {
		b.WriteString("; " + s.GroupLine())
	}
	if len(s.RequiredBad) > 0 {
		b.WriteString("; failed: " + strings.Join(s.RequiredBad, ", "))
	}
	if len(s.WantedBad) > 0 {
		b.WriteString("; warnings: " + strings.Join(s.WantedBad, ", "))
	}
	if d := rec.Deployment; d != nil {
		v := d.Version
		if v == "" {
			v = record.Short(d.Checksum)
		}
		fmt.Fprintf(&b, "; booted %s %s", d.OSName, v)
	}
	// The motd is shown at login on a terminal: no host string may
	// carry a control character there.
	return record.Printable(b.String())
}

func priority(r record.Result) journal.Priority {
	switch {
	case r.Status.Bad() && r.Required:
		return journal.PriErr
	case r.Status.Bad():
		return journal.PriWarning
	}
	return journal.PriInfo
}

func sendJournal(rec *record.Record) error {
	common := map[string]string{
		"SYSLOG_IDENTIFIER":    "atomic-selftest",
		"ATOMIC_SELFTEST_RUN":  rec.ID,
		"ATOMIC_SELFTEST_BOOT": rec.BootID,
	}
	var errs []error
	for _, r := range rec.Checks {
		vars := map[string]string{
			"MESSAGE_ID":                CheckMessageID,
			"ATOMIC_SELFTEST_CHECK":     r.ID,
			"ATOMIC_SELFTEST_STATUS":    string(r.Status),
			"ATOMIC_SELFTEST_CRITERION": r.Criterion,
			"ATOMIC_SELFTEST_REQUIRED":  strconv.FormatBool(r.Required),
			"ATOMIC_SELFTEST_DURATION":  strconv.FormatFloat(r.DurationSec, 'f', 3, 64),
		}
		for k, v := range common {
			vars[k] = v
		}
		msg := fmt.Sprintf("%s %s: %s", r.ID, r.Status, r.Message)
		if err := journal.Send(msg, priority(r), vars); err != nil {
			errs = append(errs, err)
			break
		}
	}
	vars := map[string]string{
		"MESSAGE_ID":              SummaryMessageID,
		"ATOMIC_SELFTEST_OK":      strconv.FormatBool(rec.Summary.OK),
		"ATOMIC_SELFTEST_PASSED":  strconv.Itoa(rec.Summary.Passed),
		"ATOMIC_SELFTEST_FAILED":  strconv.Itoa(rec.Summary.Failed + rec.Summary.Errors + rec.Summary.Blocked),
		"ATOMIC_SELFTEST_SKIPPED": strconv.Itoa(rec.Summary.Skipped),
		"ATOMIC_SELFTEST_TRIGGER": rec.Trigger,
	}
	for k, v := range common {
		vars[k] = v
	}
	pri := journal.PriNotice
	if !rec.Summary.OK {
		pri = journal.PriErr
	}
	if err := journal.Send(SummaryLine(rec), pri, vars); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// RefreshMotd rewrites an existing motd file at path from the newest run
// record in resultsDir, so an acknowledged rollback's banner leaves it at
// once. A missing motd file (reports are off) is left missing.
func RefreshMotd(path, resultsDir string) error {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	runs, _, err := (&store.Store{Dir: resultsDir}).Runs(store.Filter{Last: 1})
	if err != nil || len(runs) == 0 {
		return err
	}
	pending, err := notice.Pending(&store.Store{Dir: resultsDir})
	if werr := writeMotd(path, runs[0], notice.MotdLines(pending)); werr != nil {
		return fmt.Errorf("motd: %w", werr)
	}
	return err
}

// writeMotd replaces the motd file atomically (a login may read it at any
// moment). The banner lines, if any, come first.
func writeMotd(path string, rec *record.Record, banner []string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".atomic-selftest-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	line := ""
	for _, b := range banner {
		line += b + "\n"
	}
	line += SummaryLine(rec) + "\n"
	if d := notice.DeadlineLine(rec); d != "" {
		line += d + "\n"
	}
	if !rec.Summary.OK {
		line += "Run `atomic-selftest status` for details.\n"
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

package outer

// Collecting a step's evidence into its artifacts and judging it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// tail is the last lines of the console, or else of the journal, for a
// failed step.
func (h *hostRun) tail(ctx context.Context) []string {
	if lines := h.m.Console(20); len(lines) > 0 {
		return lines
	}
	if h.unusable != nil || ctx.Err() != nil {
		return nil
	}
	res, err := h.m.Run(ctx, 30*time.Second, "journalctl", "--no-pager", "-n", "20", "-o", "short-iso")
	if err != nil || res.ExitCode != 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(res.Stdout), "\n"), "\n")
}

func (h *hostRun) save(sr *report.StepReport, name string, data []byte) {
	if sr.Artifacts == "" {
		return
	}
	// Atomic: a reader (or an interrupted driver) sees the old file or
	// the whole new one.
	report.WriteFile(sr.Artifacts, name, data)
}

// collect saves the step's evidence and judges it: the booted deployment
// must be the expected one and the self-test of the boot must be OK.
func (h *hostRun) collect(ctx context.Context, sr *report.StepReport) (string, error) {
	if h.record == nil {
		rec, err := h.waitSelftest(ctx, h.opts.SelftestTimeout)
		if err != nil {
			return "", err
		}
		h.gotRecord(ctx, sr, rec)
	}
	sr.Record = h.record
	if data, err := json.MarshalIndent(h.record, "", "  "); err == nil {
		h.save(sr, "record.json", append(data, '\n'))
	}
	st, raw, err := h.fam.Status(ctx)
	if err != nil {
		return "", err
	}
	h.save(sr, "status-after.txt", raw)
	sr.After = st.Booted()
	if res, err := h.m.Run(ctx, 2*time.Minute, "journalctl", "-b", "--no-pager", "-o", "short-iso-precise", "-n", "20000"); err == nil {
		h.save(sr, "journal.txt", res.Stdout)
	}
	if lines := h.m.Console(2000); len(lines) > 0 {
		h.save(sr, "console.txt", []byte(strings.Join(lines, "\n")+"\n"))
	}
	if sr.After == nil {
		return "", errors.New("the host's status shows no booted deployment")
	}
	if e := h.expected; e != nil {
		if e.Checksum != "" && sr.After.Checksum != e.Checksum {
			want := record.Short(e.Checksum)
			if e.Version != "" {
				want += " (" + e.Version + ")"
			}
			return "", fmt.Errorf("booted %s, expected %s", family.Describe(sr.After), want)
		}
		for _, p := range e.Packages {
			if !family.HasPackage(sr.After, p) {
				return "", fmt.Errorf("booted %s does not layer %s", family.Describe(sr.After), p)
			}
		}
	}
	if sr.HostRollback != nil {
		if err := judgeHostRollback(sr, h.record); err != nil {
			return "", err
		}
	}
	if !h.record.Summary.OK {
		return "", fmt.Errorf("the self-test of boot %s failed: required checks %s", record.Short(h.bootID), strings.Join(badChecks(h.record), "; "))
	}
	msg := fmt.Sprintf("booted %s; self-test ok (%d passed, %d skipped)", family.Describe(sr.After), h.record.Summary.Passed, h.record.Summary.Skipped)
	if r := sr.HostRollback; r != nil {
		msg = fmt.Sprintf("the host rejected %s (%s)%s and rolled back by itself in %.0fs: %s", family.Describe(r.From), r.Reason, rebootsText(r.Reboots), r.RecoverSec, msg)
		sr.Message = msg
	}
	return msg, nil
}

// badChecks names the required checks that did not pass, with their
// messages.
func badChecks(rec *record.Record) []string {
	var out []string
	for _, c := range rec.Checks {
		if c.Required && c.Status.Bad() {
			s := c.ID + " " + string(c.Status)
			if c.Message != "" {
				s += " (" + c.Message + ")"
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = rec.Summary.RequiredBad
	}
	return out
}

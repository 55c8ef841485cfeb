package health

import (
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// MessageID is the journal MESSAGE_ID (sd-id128) of the entry each health
// decision writes: `journalctl MESSAGE_ID=4d0b5c3f3c8e4a8e9a3f6a1d2b7c9e03`
// lists every reboot, rollback and refusal. It continues the run entries'
// series (selftest/report SummaryMessageID, CheckMessageID).
const MessageID = "4d0b5c3f3c8e4a8e9a3f6a1d2b7c9e03"

// Line is the one-line account of a decision.
func Line(h *record.Health) string {
	var b strings.Builder
	switch h.Action {
	case record.HealthRecord:
		b.WriteString("health: required checks failed; policy record, nothing done")
	case record.HealthReboot:
		fmt.Fprintf(&b, "health: rebooting %s to test it again (attempt %d of %d)", deployment(h.From), h.Attempt, h.MaxAttempts)
	case record.HealthRollback:
		fmt.Fprintf(&b, "health: rolling back from %s to %s with %s (attempt %d of %d)", deployment(h.From), deployment(h.To), h.Tool, h.Attempt, h.MaxAttempts)
	case record.HealthRefused:
		fmt.Fprintf(&b, "health: policy %s refused to act: %s", h.Policy, h.Reason)
	case record.HealthKeepFallback:
		fmt.Fprintf(&b, "health: the bootloader fell back from %s to %s; made %s the default with %s", deployment(h.From), deployment(h.To), deployment(h.To), h.Tool)
	default:
		fmt.Fprintf(&b, "health: %s", h.Action)
	}
	if len(h.Failing) > 0 {
		ids := make([]string, len(h.Failing))
		for i, f := range h.Failing {
			ids[i] = f.ID
		}
		fmt.Fprintf(&b, "; failing: %s", strings.Join(ids, ", "))
	}
	if h.Error != "" {
		fmt.Fprintf(&b, "; error: %s", h.Error)
	}
	return b.String()
}

func deployment(d *record.Deployment) string {
	if d == nil {
		return "(none)"
	}
	s := short(d.Checksum)
	if d.Version != "" {
		s += "(" + d.Version + ")"
	}
	return s
}

// Fields are the journal fields of a decision, besides MESSAGE.
func Fields(recordID string, h *record.Health) map[string]string {
	f := map[string]string{
		"MESSAGE_ID":                    MessageID,
		"ATOMIC_SELFTEST_RUN":           recordID,
		"ATOMIC_SELFTEST_HEALTH_POLICY": h.Policy,
		"ATOMIC_SELFTEST_HEALTH_ACTION": h.Action,
		"ATOMIC_SELFTEST_HEALTH_STAGE":  h.Stage,
		"ATOMIC_SELFTEST_ATTEMPT":       fmt.Sprint(h.Attempt),
		"ATOMIC_SELFTEST_MAX_ATTEMPTS":  fmt.Sprint(h.MaxAttempts),
	}
	if h.Reason != "" {
		f["ATOMIC_SELFTEST_HEALTH_REASON"] = h.Reason
	}
	if h.From != nil {
		f["ATOMIC_SELFTEST_FROM"] = h.From.Checksum
	}
	if h.To != nil {
		f["ATOMIC_SELFTEST_TO"] = h.To.Checksum
	}
	if h.Tool != "" {
		f["ATOMIC_SELFTEST_TOOL"] = h.Tool
	}
	if h.Error != "" {
		f["ATOMIC_SELFTEST_HEALTH_ERROR"] = h.Error
	}
	return f
}

// SendJournal writes the decision's journal entry where journald listens.
func SendJournal(recordID string, h *record.Health) error {
	if h == nil || !journal.Enabled() {
		return nil
	}
	pri := journal.PriNotice
	if h.Action == record.HealthReboot || h.Action == record.HealthRollback || h.Error != "" {
		pri = journal.PriWarning
	}
	return journal.Send(Line(h), pri, Fields(recordID, h))
}

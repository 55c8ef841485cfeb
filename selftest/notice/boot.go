package notice

import (
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// maxJobLines bounds the jobs a status screen or the motd names: the
// first are the ones that hold the rest (selftest.Waiting's order).
const maxJobLines = 8

// holding is the jobs of other units than atomic-selftest's own, which
// wait on the boot by design and never hold it.
func holding(jobs []record.Job) []record.Job {
	var out []record.Job
	for _, j := range jobs {
		if !strings.HasPrefix(j.Unit, "atomic-selftest") {
			out = append(out, j)
		}
	}
	return out
}

func jobLines(jobs []record.Job, indent string) []string {
	var out []string
	for i, j := range jobs {
		if i == maxJobLines {
			out = append(out, fmt.Sprintf("%s… and %d more", indent, len(jobs)-i))
			break
		}
		out = append(out, indent+record.Printable(j.String()))
	}
	return out
}

// DeadlineLine is the motd's line for a run that judged a boot which
// missed its deadline, or "" for any other run: "atomic-selftest: this
// boot missed its deadline (10m0s after it started); it waited for
// cloud-final.service start running for 9m58s".
func DeadlineLine(rec *record.Record) string {
	if rec.Deadline == nil {
		return ""
	}
	return record.Printable("atomic-selftest: this boot " + deadlineReason(rec.Deadline))
}

// deadlineReason is "missed its deadline (…); it waited for …".
func deadlineReason(d *record.Deadline) string {
	s := "missed its deadline (" + d.Bound + " after it started)"
	h := holding(d.Jobs)
	if len(h) == 0 {
		return s + "; no job of another unit than atomic-selftest's own was recorded"
	}
	return s + "; it waited for " + strings.Join(jobLines(h, ""), "; ")
}

// Boot is what `status` knows of the current boot before its records:
// its id, how long since it started, the deadline, and systemd's jobs
// (JobsErr when they could not be read).
type Boot struct {
	ID       string
	Uptime   time.Duration
	Deadline time.Duration
	Jobs     []record.Job
	JobsErr  error
}

// ThisBoot is the first lines of `status`: whether the current boot is
// judged (its boot run's or deadline run's record), and if not, what the
// boot run is waiting for.
func ThisBoot(runs []*record.Record, b Boot) []string {
	id := record.Short(b.ID)
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.BootID != b.ID || !record.JudgesBoot(r.Trigger) {
			continue
		}
		verdict := "passed"
		if !r.Summary.OK {
			verdict = "failed: " + strings.Join(r.Summary.RequiredBad, ", ")
		}
		lines := []string{record.Printable(fmt.Sprintf("This boot (%s): judged by run %s (trigger %s) at %s: %s",
			id, r.ID, r.Trigger, r.End.UTC().Format("2006-01-02 15:04 UTC"), verdict))}
		if r.Deadline != nil {
			lines = append(lines, record.Printable("  it missed its deadline ("+r.Deadline.Bound+" after it started); it waited for:"))
			h := holding(r.Deadline.Jobs)
			if len(h) == 0 {
				lines = append(lines, "    no job of another unit than atomic-selftest's own was recorded")
			}
			lines = append(lines, jobLines(h, "    ")...)
		}
		return lines
	}
	s := fmt.Sprintf("This boot (%s): not judged yet, up %s", id, b.Uptime.Round(time.Second))
	switch {
	case b.Deadline == 0:
		s += "; no deadline (health.boot_deadline = 0)"
	case b.Uptime < b.Deadline:
		s += fmt.Sprintf("; the deadline run judges it at %s after the boot, in %s", b.Deadline, (b.Deadline - b.Uptime).Round(time.Second))
	default:
		s += fmt.Sprintf("; its deadline (%s after the boot) has passed and the deadline run has not saved a record yet", b.Deadline)
	}
	lines := []string{record.Printable(s)}
	switch {
	case b.JobsErr != nil:
		lines = append(lines, record.Printable("  what the boot run waits for is unknown: "+b.JobsErr.Error()))
	case len(b.Jobs) == 0:
		lines = append(lines, "  systemd has no job queued: the boot run is not waiting on the boot (is atomic-selftest.service enabled?)")
	default:
		lines = append(lines, "  the boot run is waiting for systemd's jobs:")
		lines = append(lines, jobLines(b.Jobs, "    ")...)
	}
	return lines
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/atomic-selftest/atomic-selftest/selftest/format"
	"github.com/atomic-selftest/atomic-selftest/selftest/notice"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/session"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

type statusOptions struct {
	resultsDir string
	boots      int
	sysroot    string
	format     string
}

var statusOpts statusOptions

func init() {
	register(&command{
		name:  "status",
		short: "one screen for an admin: the last run of each recent boot and what failed",
		usage: "status [--boots N] [--format text|json] [--results-dir DIR] [--sysroot DIR]",
		flags: func(fs *pflag.FlagSet) {
			fs.IntVar(&statusOpts.boots, "boots", 5, "show the last run of the newest N boots")
			fs.StringVar(&statusOpts.resultsDir, "results-dir", store.DefaultDir, "directory of run records")
			fs.StringVar(&statusOpts.sysroot, "sysroot", "", "show the deployments of the sysroot at `DIR`")
			fs.StringVar(&statusOpts.format, "format", "text", "output format: text, or json (runs and the latest health action with its attempt counts; no deployments section)")
		},
		run: func(ctx context.Context, e *env, args []string) error { return runStatus(ctx, e, statusOpts, args) },
	})
}

// statusSections lets areas add a section (deployments) to `status`; each
// returns the lines to print for the given root.
var statusSections []func(ctx context.Context, root string, e *env) error

func runStatus(ctx context.Context, e *env, o statusOptions, args []string) error {
	if len(args) > 0 {
		return usageErr("status takes no arguments")
	}
	if o.boots < 1 {
		return usageErr("--boots: must be at least 1, got %d", o.boots)
	}
	if o.format != "text" && o.format != "json" {
		return usageErr("--format: %q is not one of text, json", o.format)
	}
	if o.format == "json" {
		if o.sysroot != "" {
			return usageErr("--format json shows the results directory; it does not go with --sysroot")
		}
		return statusJSON(ctx, e, o)
	}
	root := "/"
	if o.sysroot != "" {
		if err := checkDir(o.sysroot); err != nil {
			return usageErr("--sysroot: %v", err)
		}
		root = o.sysroot
	}
	if o.sysroot == "" {
		// The current boot comes first: judged or not, and what the boot
		// run waits for; then an automatic rollback nobody acknowledged.
		statusThisBoot(ctx, e, o.resultsDir)
		statusBanner(e, o.resultsDir)
	}
	for _, s := range statusSections {
		if err := s(ctx, root, e); err != nil {
			fmt.Fprintf(e.stderr, "atomic-selftest status: %v\n", err)
		}
	}
	if o.sysroot != "" {
		return nil
	}
	st := &store.Store{Dir: o.resultsDir}
	if err := checkDir(o.resultsDir); err != nil {
		fmt.Fprintf(e.stdout, "No runs recorded (%v).\n", err)
		return nil
	}
	runs, problems, err := st.Runs(store.Filter{})
	if err != nil {
		return err
	}
	lasts := lastOfEachBoot(runs, o.boots)
	current := session.ReadBootID()
	txt := format.Text{Color: e.isTTY}
	fmt.Fprintf(e.stdout, "Runs (%d recorded in %s", len(runs), o.resultsDir)
	if len(problems) > 0 {
		fmt.Fprintf(e.stdout, ", %d unreadable", len(problems))
	}
	fmt.Fprintln(e.stdout, "):")
	if len(lasts) == 0 {
		fmt.Fprintln(e.stdout, "  none yet")
	}
	for _, r := range lasts {
		mark := " "
		if r.BootID == current && current != "" {
			mark = "●"
		}
		verdict := txt.StatusWord(record.Result{Status: record.StatusPass, Required: true})
		if !r.Summary.OK {
			verdict = txt.StatusWord(record.Result{Status: record.StatusFail, Required: true})
		}
		dep := ""
		if d := r.Deployment; d != nil {
			dep = d.Version
			if dep == "" {
				dep = record.Short(d.Checksum)
			}
		}
		trans := ""
		if r.Transition != nil {
			trans = r.Transition.Kind
			if r.Transition.By != "" {
				trans += " by " + r.Transition.By
			}
		}
		// The record's strings come from the host: record.Printable
		// escapes their control characters.
		fmt.Fprintf(e.stdout, "%s boot %-12.12s %s  %s  %s %s  %d passed, %d failed, %d skipped  %s  %s\n", mark, record.Printable(r.BootID),
			r.End.Local().Format("2006-01-02 15:04"), verdict, record.Printable(dep), record.Printable(trans),
			r.Summary.Passed, r.Summary.Failed+r.Summary.Errors+r.Summary.Blocked, r.Summary.Skipped, record.Printable(r.Trigger), timings(r))
		for _, c := range r.Checks {
			if c.Status.Bad() {
				fmt.Fprintf(e.stdout, "      %s %s: %s\n", txt.StatusWord(c), record.Printable(c.ID), record.Printable(strings.SplitN(c.Message, "\n", 2)[0]))
			}
		}
	}
	for _, p := range problems {
		fmt.Fprintf(e.stdout, "  unreadable: %s\n", record.Printable(p.Error()))
	}
	return nil
}

// timings says how long the run took and, where systemd recorded it, how
// long the boot took to reach its default target (kernel to the end of
// the boot, as `systemd-analyze time` counts it), in one short field so
// the boot stays one line.
func timings(r *record.Record) string {
	s := "ran " + roundDuration(r.End.Sub(r.Start))
	if b := r.Boot; b != nil && b.Finished() {
		target := b.DefaultTarget
		if target == "" {
			target = "the default target"
		}
		s += ", " + target + " in " + roundDuration(b.BootDuration())
	}
	return s
}

// roundDuration keeps milliseconds below a second, a tenth of a second
// below a minute, whole seconds above: "3ms", "11.8s", "1m4s".
func roundDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// statusThisBoot prints whether the current boot is judged and, if not,
// what its boot run is waiting for (notice.ThisBoot).
func statusThisBoot(ctx context.Context, e *env, dir string) {
	runs, _ := thisBoot(ctx, dir)
	for _, l := range notice.ThisBoot(runs, session.ThisBoot(ctx, judgedBy(runs) != nil)) {
		fmt.Fprintln(e.stdout, l)
	}
	fmt.Fprintln(e.stdout)
}

// thisBoot returns the current boot's runs in dir and its id.
func thisBoot(_ context.Context, dir string) ([]*record.Record, string) {
	boot := session.ReadBootID()
	if checkDir(dir) != nil || boot == "" {
		return nil, boot
	}
	runs, _, _ := (&store.Store{Dir: dir}).Runs(store.Filter{BootID: boot})
	return runs, boot
}

// judgedBy is the newest of runs that judged its boot (record.JudgesBoot).
func judgedBy(runs []*record.Record) *record.Record {
	for i := len(runs) - 1; i >= 0; i-- {
		if record.JudgesBoot(runs[i].Trigger) {
			return runs[i]
		}
	}
	return nil
}

// statusThisBootDoc is the current boot in `status --format json`.
type statusThisBootDoc struct {
	BootID string `json:"boot_id"`
	// JudgedBy is the record of its boot run or deadline run, "" while
	// neither saved one; Deadline what a deadline run found.
	JudgedBy  string           `json:"judged_by,omitempty"`
	Trigger   string           `json:"trigger,omitempty"`
	OK        *bool            `json:"ok,omitempty"`
	Deadline  *record.Deadline `json:"deadline,omitempty"`
	UptimeSec float64          `json:"uptime_s"`
	// BootDeadline is [health] boot_deadline; Jobs systemd's jobs while
	// the boot is not judged, JobsError why they could not be read.
	BootDeadline string       `json:"boot_deadline"`
	Jobs         []record.Job `json:"jobs,omitempty"`
	JobsError    string       `json:"jobs_error,omitempty"`
}

// statusBanner prints the banner of the newest unacknowledged automatic
// rollback, or else the last health action, if any.
func statusBanner(e *env, dir string) {
	if checkDir(dir) != nil {
		return
	}
	st := &store.Store{Dir: dir}
	runs, _, err := st.Runs(store.Filter{})
	if err != nil {
		return // the runs section below says why
	}
	ack, err := notice.ReadAck(st)
	if err != nil {
		fmt.Fprintf(e.stderr, "atomic-selftest status: %v\n", err)
	}
	view := notice.Summarize(runs, ack)
	if view.Banner != "" {
		fmt.Fprintf(e.stdout, "%s\n  (record %s; `atomic-selftest ack` acknowledges it)\n\n", view.Banner, record.Printable(view.Unacknowledged.Record))
	}
	if a := view.Latest; a != nil && (view.Unacknowledged == nil || a.Record != view.Unacknowledged.Record) {
		fmt.Fprintf(e.stdout, "Last health action: %s\n\n", record.Printable(describeAction(a)))
	}
}

// describeAction says what a run's health policy did: "reboot (attempt 1
// of 2) on 2026-12-07 03:10 UTC, record run-…: runtime.service failed: …".
func describeAction(a *notice.Action) string {
	h := a.Health
	s := h.Action
	if h.MaxAttempts > 0 {
		s += fmt.Sprintf(" (attempt %d of %d)", h.Attempt, h.MaxAttempts)
	}
	s += " on " + a.Time.Format("2006-01-02 15:04 UTC") + ", record " + a.Record
	if h.Action == record.HealthRefused && h.Reason != "" {
		return s + ": refused: " + h.Reason
	}
	s += ": " + h.Failures()
	if h.Error != "" {
		s += "; error: " + h.Error
	}
	return s
}

// statusBoot is one boot's last run in `status --format json`.
type statusBoot struct {
	Record     string             `json:"record"`
	BootID     string             `json:"boot_id"`
	End        time.Time          `json:"end"`
	OK         bool               `json:"ok"`
	Deployment *record.Deployment `json:"deployment,omitempty"`
	Transition *record.Transition `json:"transition,omitempty"`
	Health     *record.Health     `json:"health,omitempty"`
	Summary    record.Summary     `json:"summary"`
}

// statusDoc is `status --format json`.
type statusDoc struct {
	ResultsDir string `json:"results_dir"`
	// ThisBoot is the current boot: judged or not, and what it waits for.
	ThisBoot   statusThisBootDoc `json:"this_boot"`
	Runs       int               `json:"runs"`
	Unreadable []string          `json:"unreadable,omitempty"`
	Health     notice.View       `json:"health"`
	Boots      []statusBoot      `json:"boots"`
}

func statusJSON(ctx context.Context, e *env, o statusOptions) error {
	doc := statusDoc{ResultsDir: o.resultsDir, Boots: []statusBoot{}}
	runs, boot := thisBoot(ctx, o.resultsDir)
	j := judgedBy(runs)
	b := session.ThisBoot(ctx, j != nil)
	doc.ThisBoot = statusThisBootDoc{BootID: boot, UptimeSec: b.Uptime.Seconds(), BootDeadline: b.Deadline.String(), Jobs: b.Jobs}
	if b.JobsErr != nil {
		doc.ThisBoot.JobsError = b.JobsErr.Error()
	}
	if j != nil {
		ok := j.Summary.OK
		doc.ThisBoot.JudgedBy, doc.ThisBoot.Trigger, doc.ThisBoot.OK, doc.ThisBoot.Deadline = j.ID, j.Trigger, &ok, j.Deadline
	}
	if err := checkDir(o.resultsDir); err == nil {
		st := &store.Store{Dir: o.resultsDir}
		runs, problems, err := st.Runs(store.Filter{})
		if err != nil {
			return err
		}
		ack, err := notice.ReadAck(st)
		if err != nil {
			fmt.Fprintf(e.stderr, "atomic-selftest status: %v\n", err)
		}
		doc.Runs, doc.Health = len(runs), notice.Summarize(runs, ack)
		for _, p := range problems {
			doc.Unreadable = append(doc.Unreadable, p.Error())
		}
		for _, r := range lastOfEachBoot(runs, o.boots) {
			doc.Boots = append(doc.Boots, statusBoot{Record: r.ID, BootID: r.BootID, End: r.End, OK: r.Summary.OK,
				Deployment: r.Deployment, Transition: r.Transition, Health: r.Health, Summary: r.Summary})
		}
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(e.stdout, string(data))
	return err
}

// lastOfEachBoot returns the last run of each of the newest n boots,
// newest boot first.
func lastOfEachBoot(runs []*record.Record, n int) []*record.Record {
	var lasts []*record.Record
	seen := map[string]bool{}
	for i := len(runs) - 1; i >= 0 && len(lasts) < n; i-- {
		if !seen[runs[i].BootID] {
			seen[runs[i].BootID] = true
			lasts = append(lasts, runs[i])
		}
	}
	return lasts
}

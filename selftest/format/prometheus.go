package format

import (
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Prometheus prints the newest run in the Prometheus text exposition format
// 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats/), the format
// node_exporter's textfile collector reads. Only the newest run is printed:
// one scrape sees one state of the host, and two runs would repeat series.
//
// Each check is one series, its status a label and its value 1:
//
//	atomic_selftest_check_status{id="runtime.run",criterion="C8",group="release",required="true",status="pass"} 1
//
// so `atomic_selftest_check_status{status=~"fail|error|blocked",required="true"}`
// lists the broken required checks, and the label group (release, host,
// site: record.GroupOf) tells the release criteria from the host's health
// and the site's own checks; atomic_selftest_group_ok says each group's
// verdict. Label values come from the host (check
// ids, versions, osnames); the Prometheus project's own encoder (expfmt)
// writes and escapes them. Free text (messages, hostnames) is never put in
// a label. (expfmt and its protobuf types add 2.4 MB to the static binary;
// text/template would add 3.9 MB, as it stops the linker dropping unused
// methods.) A label value that is not valid UTF-8 (a commit's version is
// whatever bytes its builder wrote) has each bad byte replaced by U+FFFD:
// Prometheus's parser rejects a whole file for one bad byte, which would
// hide atomic_selftest_run_ok with it.
//
// The rules and the dashboard in dist/prometheus read these names; a
// rename here is a rename there (docs/fleet.md).
type Prometheus struct{}

// Metric names, all prefixed atomic_selftest_.
const (
	promCheckStatus     = "atomic_selftest_check_status"
	promCheckDuration   = "atomic_selftest_check_duration_seconds"
	promRunStart        = "atomic_selftest_run_start_timestamp_seconds"
	promRunDuration     = "atomic_selftest_run_duration_seconds"
	promRunOK           = "atomic_selftest_run_ok"
	promRunInfo         = "atomic_selftest_run_info"
	promRequiredFailing = "atomic_selftest_required_checks_failing"
	promGroupOK         = "atomic_selftest_group_ok"
	promDeploymentInfo  = "atomic_selftest_deployment_info"
	promBootDuration    = "atomic_selftest_boot_duration_seconds"
	promBootTime        = "atomic_selftest_boot_timestamp_seconds"
	promTransitionInfo  = "atomic_selftest_transition_info"
	promHealthInfo      = "atomic_selftest_health_action_info"
	promHealthAttempt   = "atomic_selftest_health_attempt"
	promHealthMax       = "atomic_selftest_health_max_attempts"
)

// Write implements Formatter. With no runs it writes nothing: an empty
// textfile is a valid exposition with no samples.
func (Prometheus) Write(w io.Writer, runs []*record.Record) error {
	if len(runs) == 0 {
		return nil
	}
	for _, mf := range PrometheusFamilies(runs[len(runs)-1]) {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return err
		}
	}
	return nil
}

// PrometheusFamilies returns the metric families of one run, all gauges,
// sorted by name.
func PrometheusFamilies(rec *record.Record) []*dto.MetricFamily {
	gauge := func(name, help string, ms ...*dto.Metric) *dto.MetricFamily {
		return &dto.MetricFamily{Name: &name, Help: &help, Type: dto.MetricType_GAUGE.Enum(), Metric: ms}
	}
	sample := func(v float64, labels ...string) *dto.Metric {
		m := &dto.Metric{Gauge: &dto.Gauge{Value: &v}}
		for i := 0; i+1 < len(labels); i += 2 {
			v := strings.ToValidUTF8(labels[i+1], "\uFFFD")
			m.Label = append(m.Label, &dto.LabelPair{Name: &labels[i], Value: &v})
		}
		return m
	}
	var status, duration []*dto.Metric
	for _, r := range rec.Checks {
		status = append(status, sample(1,
			"id", r.ID, "criterion", r.Criterion, "group", record.GroupOf(r.Criterion), "required", strconv.FormatBool(r.Required), "status", string(r.Status)))
		duration = append(duration, sample(r.DurationSec, "id", r.ID))
	}
	ok := 0.0
	if rec.Summary.OK {
		ok = 1
	}
	transition := ""
	if rec.Transition != nil {
		transition = rec.Transition.Kind
	}
	var osname, version string
	if d := rec.Deployment; d != nil {
		osname, version = d.OSName, d.Version
	}
	fams := []*dto.MetricFamily{
		gauge(promRunStart, "Start of the last atomic-selftest run, in seconds since the epoch.",
			sample(epochSeconds(rec.Start))),
		gauge(promRunDuration, "Wall-clock duration of the last atomic-selftest run.",
			sample(rec.End.Sub(rec.Start).Seconds())),
		gauge(promRunOK, "1 if every required check of the last run passed or was skipped (exit status 0), else 0.",
			sample(ok)),
		gauge(promRunInfo, "The last run: its boot, trigger, transition, tool version and the booted deployment's osname and version; always 1.",
			sample(1, "boot_id", rec.BootID, "trigger", rec.Trigger, "transition", transition, "tool_version", rec.ToolVersion,
				"osname", osname, "version", version)),
		gauge(promRequiredFailing, "Required checks of the last run that failed, errored or were blocked.",
			sample(float64(len(rec.Summary.RequiredBad)))),
	}
	var groups []*dto.Metric
	for _, g := range rec.Summary.Groups {
		v := 0.0
		if g.OK {
			v = 1
		}
		groups = append(groups, sample(v, "group", g.Group))
	}
	if len(groups) > 0 {
		fams = append(fams, gauge(promGroupOK, "1 if no required check of the group (release criteria, host health, site checks) failed, errored or was blocked in the last run, else 0.", groups...))
	}
	if len(status) > 0 {
		fams = append(fams,
			gauge(promCheckStatus, "One series per check of the last run with its status as a label; always 1.", status...),
			gauge(promCheckDuration, "How long each check of the last run took.", duration...))
	}
	if d := rec.Deployment; d != nil {
		fams = append(fams, gauge(promDeploymentInfo, "The booted OSTree deployment; always 1.",
			sample(1, "osname", d.OSName, "version", d.Version, "checksum", d.Checksum)))
	}
	if d := rec.Deployment; d != nil && !d.BootedAt.IsZero() {
		fams = append(fams, gauge(promBootTime, "When the boot the last run judged started (btime), in seconds since the epoch.",
			sample(epochSeconds(d.BootedAt))))
	}
	if tr := rec.Transition; tr != nil {
		// boot_id makes each boot's transition its own series, so
		// Prometheus's history counts rollbacks (docs/fleet.md).
		fams = append(fams, gauge(promTransitionInfo, "How the last run's boot came to its deployment (kind, by whom) and the versions before, after and expected; always 1.",
			sample(1, "boot_id", rec.BootID, "kind", tr.Kind, "by", tr.By, "from_version", versionOf(tr.From), "to_version", versionOf(tr.To),
				"expected_version", versionOf(tr.Expected))))
	}
	if hl := rec.Health; hl != nil {
		fams = append(fams,
			gauge(promHealthInfo, "What the [health] policy did about the last run (record, reboot, rollback, refused), how far it got and between which versions; always 1.",
				sample(1, "policy", hl.Policy, "action", hl.Action, "stage", hl.Stage, "tool", hl.Tool,
					"from_version", versionOf(hl.From), "to_version", versionOf(hl.To))),
			gauge(promHealthAttempt, "Failed boots of the deployment the [health] policy judged, this one included.",
				sample(float64(hl.Attempt))),
			gauge(promHealthMax, "Failed boots the [health] policy allows a deployment before it rolls back (reboot_attempts+1).",
				sample(float64(hl.MaxAttempts))))
	}
	if b := rec.Boot; b != nil && b.Finished() {
		fams = append(fams, gauge(promBootDuration, "Time from the kernel to the end of the boot (systemd-analyze time, without firmware and loader).",
			sample(b.BootDuration().Seconds())))
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i].GetName() < fams[j].GetName() })
	return fams
}

// versionOf is a deployment's version for a label, "" for none.
func versionOf(d *record.Deployment) string {
	if d == nil {
		return ""
	}
	return d.Version
}

// epochSeconds is t in seconds since the epoch; whole seconds and the
// fraction are added apart so a float64 keeps the milliseconds exact.
func epochSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

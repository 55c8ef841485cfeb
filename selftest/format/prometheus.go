package format

import (
	"io"
	"sort"
	"strconv"

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
//	atomic_selftest_check_status{id="runtime.run",criterion="C8",required="true",status="pass"} 1
//
// so `atomic_selftest_check_status{status=~"fail|error|blocked",required="true"}`
// lists the broken required checks. Label values come from the host (check
// ids, versions, osnames); the Prometheus project's own encoder (expfmt)
// writes and escapes them. Free text (messages, hostnames) is never put in
// a label. (expfmt and its protobuf types add 2.4 MB to the static binary;
// text/template would add 3.9 MB, as it stops the linker dropping unused
// methods.)
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
	promDeploymentInfo  = "atomic_selftest_deployment_info"
	promBootDuration    = "atomic_selftest_boot_duration_seconds"
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
			m.Label = append(m.Label, &dto.LabelPair{Name: &labels[i], Value: &labels[i+1]})
		}
		return m
	}
	var status, duration []*dto.Metric
	for _, r := range rec.Checks {
		status = append(status, sample(1,
			"id", r.ID, "criterion", r.Criterion, "required", strconv.FormatBool(r.Required), "status", string(r.Status)))
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
	fams := []*dto.MetricFamily{
		gauge(promRunStart, "Start of the last atomic-selftest run, in seconds since the epoch.",
			sample(float64(rec.Start.UnixNano())/1e9)),
		gauge(promRunDuration, "Wall-clock duration of the last atomic-selftest run.",
			sample(rec.End.Sub(rec.Start).Seconds())),
		gauge(promRunOK, "1 if every required check of the last run passed or was skipped (exit status 0), else 0.",
			sample(ok)),
		gauge(promRunInfo, "The last run: its boot, trigger, transition and tool version; always 1.",
			sample(1, "boot_id", rec.BootID, "trigger", rec.Trigger, "transition", transition, "tool_version", rec.ToolVersion)),
		gauge(promRequiredFailing, "Required checks of the last run that failed, errored or were blocked.",
			sample(float64(len(rec.Summary.RequiredBad)))),
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
	if b := rec.Boot; b != nil && b.Finished() {
		fams = append(fams, gauge(promBootDuration, "Time from the kernel to the end of the boot (systemd-analyze time, without firmware and loader).",
			sample(b.BootDuration().Seconds())))
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i].GetName() < fams[j].GetName() })
	return fams
}

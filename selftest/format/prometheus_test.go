package format

import (
	"bytes"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// parseProm reads the output back with the Prometheus project's own text
// parser, with the legacy (pre-UTF-8) name rules node_exporter 1.x uses.
func parseProm(t *testing.T, out []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("not valid Prometheus text format: %v\n%s", err, out)
	}
	return fams
}

func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// TestPrometheusParses checks the metrics of a failed run as a scraper sees
// them: one status series per check, the run's outcome and the deployment.
func TestPrometheusParses(t *testing.T) {
	runs := fixedRecords()["many"]
	var buf bytes.Buffer
	if err := (Prometheus{}).Write(&buf, runs); err != nil {
		t.Fatal(err)
	}
	fams := parseProm(t, buf.Bytes())
	st := fams[promCheckStatus]
	if st == nil || st.GetType() != dto.MetricType_GAUGE || len(st.Metric) != 4 {
		t.Fatalf("%s: want 4 gauge series (the newest run only), got %v", promCheckStatus, st)
	}
	got := map[string]string{}
	for _, m := range st.Metric {
		l := labels(m)
		if m.GetGauge().GetValue() != 1 {
			t.Errorf("%s value %v, want 1", l["id"], m.GetGauge().GetValue())
		}
		got[l["id"]] = l["criterion"] + " " + l["required"] + " " + l["status"]
	}
	want := map[string]string{
		"deployment.expected": "C3 true fail", "runtime.run": "C8 true blocked",
		"runtime.service": "C9 true fail", "syscontainer.atomic": "C10 false error",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: got %q, want %q", id, got[id], w)
		}
	}
	value := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.Metric) != 1 {
			t.Fatalf("%s: want one series, got %v", name, f)
		}
		return f.Metric[0].GetGauge().GetValue()
	}
	start := time.Date(2018, 6, 1, 12, 0, 0, 0, time.UTC)
	if v := value(promRunStart); v != float64(start.Unix()) {
		t.Errorf("start %v", v)
	}
	if v := value(promRunDuration); v != 1.5 {
		t.Errorf("duration %v", v)
	}
	if v := value(promRunOK); v != 0 {
		t.Errorf("ok %v, want 0 for a run with failed required checks", v)
	}
	if v := value(promRequiredFailing); v != 3 {
		t.Errorf("required failing %v, want 3", v)
	}
	if l := labels(fams[promDeploymentInfo].Metric[0]); l["version"] != "28.20180601.0" || l["osname"] != "fedora-atomic" || l["checksum"] != "3f2a0000000000000000" {
		t.Errorf("deployment info labels %v", l)
	}
	if l := labels(fams[promRunInfo].Metric[0]); l["boot_id"] != "b00t2" || l["transition"] != "upgrade" {
		t.Errorf("run info labels %v", l)
	}
	if _, ok := fams[promBootDuration]; ok {
		t.Error("boot duration without a recorded boot")
	}
}

// TestPrometheusEscapesHostStrings feeds label values a host controls
// (version, osname, check ids from the record) with every character the
// text format must escape, and expects the parser to give them back.
func TestPrometheusEscapesHostStrings(t *testing.T) {
	hostile := "28\"} evil_metric 1\n# HELP x\\y"
	rec := fixedRecords()["pass"][0]
	rec.Deployment.Version = hostile
	rec.Deployment.OSName = "os\\name\n"
	rec.Checks[0].ID = `id"with"quotes`
	rec.Boot = &record.ManagerState{KernelUsec: 1_000_000, FinishUsec: 24_500_000}
	var buf bytes.Buffer
	if err := (Prometheus{}).Write(&buf, []*record.Record{rec}); err != nil {
		t.Fatal(err)
	}
	fams := parseProm(t, buf.Bytes())
	if _, ok := fams["evil_metric"]; ok {
		t.Fatal("a label value injected a metric")
	}
	l := labels(fams[promDeploymentInfo].Metric[0])
	if l["version"] != hostile || l["osname"] != "os\\name\n" {
		t.Errorf("label values not restored: %q %q", l["version"], l["osname"])
	}
	if id := labels(fams[promCheckStatus].Metric[0])["id"]; id != `id"with"quotes` {
		t.Errorf("check id %q", id)
	}
	if v := fams[promBootDuration].Metric[0].GetGauge().GetValue(); v != 23.5 {
		t.Errorf("boot duration %v, want 23.5", v)
	}
}

func TestPrometheusNoRuns(t *testing.T) {
	var buf bytes.Buffer
	if err := (Prometheus{}).Write(&buf, nil); err != nil || buf.Len() != 0 {
		t.Errorf("no runs: %q, %v", buf.String(), err)
	}
	if !strings.Contains(strings.Join(Names(), ","), "prometheus") {
		t.Error("prometheus is not a format name")
	}
}

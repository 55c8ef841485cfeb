package format

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
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

// rolledBack is the record of the boot after atomic-selftest rolled a
// host back from 12.3 to 12.2, carrying the failing boot's health
// decision too (a record can hold both when the rollback target fails).
func rolledBack() *record.Record {
	rec := fixedRecords()["pass"][0]
	booted := time.Date(2018, 6, 1, 11, 59, 30, 250_000_000, time.UTC)
	v122 := &record.Deployment{OSName: "fedora-atomic", Checksum: "aaaa", Version: "12.2", BootedAt: booted}
	v123 := &record.Deployment{OSName: "fedora-atomic", Checksum: "bbbb", Version: "12.3"}
	rec.Deployment = v122
	rec.Transition = &record.Transition{Kind: record.TransitionRollback, By: record.TransitionByAtomicSelftest, From: v123, To: v122}
	rec.Health = &record.Health{Policy: "rollback", Action: record.HealthRollback, Stage: record.HealthStageDone, Tool: "rpm-ostree",
		From: v123, To: v122, Attempt: 2, MaxAttempts: 2}
	return rec
}

// TestPrometheusFleetSeries checks the series the fleet rules in
// dist/prometheus read: the version on the run's info, the boot's start,
// the transition with its versions and the health action.
func TestPrometheusFleetSeries(t *testing.T) {
	var buf bytes.Buffer
	if err := (Prometheus{}).Write(&buf, []*record.Record{rolledBack()}); err != nil {
		t.Fatal(err)
	}
	fams := parseProm(t, buf.Bytes())
	one := func(name string) *dto.Metric {
		t.Helper()
		f := fams[name]
		if f == nil || len(f.Metric) != 1 {
			t.Fatalf("%s: want one series, got %v", name, f)
		}
		return f.Metric[0]
	}
	for name, want := range map[string]map[string]string{
		promRunInfo:        {"version": "12.2", "osname": "fedora-atomic", "transition": "rollback"},
		promTransitionInfo: {"boot_id": "b00t1", "kind": "rollback", "by": "atomic-selftest", "from_version": "12.3", "to_version": "12.2", "expected_version": ""},
		promHealthInfo:     {"policy": "rollback", "action": "rollback", "stage": "done", "tool": "rpm-ostree", "from_version": "12.3", "to_version": "12.2"},
	} {
		got := labels(one(name))
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s{%s}: got %q, want %q", name, k, got[k], v)
			}
		}
	}
	if v := one(promBootTime).GetGauge().GetValue(); v != 1527854370.25 {
		t.Errorf("boot timestamp %v, want 1527854370.25", v)
	}
	if a, m := one(promHealthAttempt).GetGauge().GetValue(), one(promHealthMax).GetGauge().GetValue(); a != 2 || m != 2 {
		t.Errorf("attempt %v of %v, want 2 of 2", a, m)
	}
	// A record with neither transition nor health (a --sysroot run)
	// writes neither family: absent, not an info series of empty labels.
	rec := fixedRecords()["pass"][0]
	rec.Transition = nil
	buf.Reset()
	if err := (Prometheus{}).Write(&buf, []*record.Record{rec}); err != nil {
		t.Fatal(err)
	}
	fams = parseProm(t, buf.Bytes())
	for _, name := range []string{promTransitionInfo, promHealthInfo, promHealthAttempt, promBootTime} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s written for a run without it", name)
		}
	}
}

// TestPrometheusInvalidUTF8 is issue 24 item 8: one byte that is not
// UTF-8 in a commit's version made the whole textfile unreadable to
// Prometheus, atomic_selftest_run_ok with it. The bad byte becomes U+FFFD
// and everything else stays.
func TestPrometheusInvalidUTF8(t *testing.T) {
	rec := rolledBack()
	rec.Deployment.Version = "12.2\xff\xfe-\xc3"
	rec.Checks[0].ID = "host.\x80boot"
	var buf bytes.Buffer
	if err := (Prometheus{}).Write(&buf, []*record.Record{rec}); err != nil {
		t.Fatal(err)
	}
	fams := parseProm(t, buf.Bytes())
	if _, ok := fams[promRunOK]; !ok {
		t.Fatal("run_ok missing")
	}
	if v := labels(fams[promDeploymentInfo].Metric[0])["version"]; v != "12.2\uFFFD-\uFFFD" {
		t.Errorf("version label %q, want the bad bytes replaced", v)
	}
	if id := labels(fams[promCheckStatus].Metric[0])["id"]; id != "host.\uFFFDboot" {
		t.Errorf("check id %q", id)
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		promtoolCheck(t, p, "invalid UTF-8", buf.Bytes())
	}
}

// TestPrometheusPromtool reads every golden case, the fleet record and
// hostile strings with Prometheus's own `promtool check metrics`: it
// parses with the server's parser and lints names, units, HELP and TYPE
// (issue 32); a lint finding fails the test as a parse error does.
func TestPrometheusPromtool(t *testing.T) {
	promtool := testutil.NeedCommand(t, "prometheus", "promtool")
	cases := map[string]*record.Record{"fleet": rolledBack()}
	for name, runs := range fixedRecords() {
		cases[name] = runs[len(runs)-1]
	}
	hostile := rolledBack()
	hostile.Deployment.Version = "28\"} evil 1\n# HELP x\\y\xff"
	hostile.Boot = &record.ManagerState{KernelUsec: 1, FinishUsec: 2_000_001}
	cases["hostile"] = hostile
	for name, rec := range cases {
		var buf bytes.Buffer
		if err := (Prometheus{}).Write(&buf, []*record.Record{rec}); err != nil {
			t.Fatal(err)
		}
		promtoolCheck(t, promtool, name, buf.Bytes())
	}
}

// promtoolCheck runs `promtool check metrics` on out: it exits 1 on a
// parse error and 3 on lint problems, printing them.
func promtoolCheck(t *testing.T, promtool, name string, out []byte) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(out)
	msg, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(msg)) != 0 {
		t.Errorf("%s: promtool check metrics: %v\n%s\n--- input\n%s", name, err, msg, out)
	}
}

package prometheus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// screenshot, when set, is where the fleet test saves Prometheus's alerts
// page as headless Chromium renders it with the alerts firing
// (docs/fleet-alerts.png: go test ./dist/prometheus -run Fleet
// -screenshot $PWD/docs/fleet-alerts.png).
var screenshot = flag.String("screenshot", "", "save a PNG of Prometheus's alerts page during the fleet test to `FILE`")

// fleetWait bounds every wait of the fleet test: a daemon getting ready,
// an alert reaching Alertmanager.
const fleetWait = 90 * time.Second

// host is one simulated host: its results directory, the textfile
// directory its node_exporter reads, and a /proc holding only its stat
// file, so its boot time is its own.
type host struct {
	name     string
	results  string
	textfile string
	procfs   string
	addr     string // its node_exporter, the scrape target (instance)
}

func newHost(t *testing.T, name string, bootTime time.Time) *host {
	t.Helper()
	base := t.TempDir()
	h := &host{name: name, results: filepath.Join(base, "results"), textfile: filepath.Join(base, "textfile"), procfs: filepath.Join(base, "proc")}
	for _, d := range []string{h.textfile, h.procfs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// node_exporter's stat collector reads btime from PROCFS/stat: the
	// real file with this host's boot time in it.
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^btime \d+$`)
	if !re.Match(stat) {
		t.Fatalf("/proc/stat has no btime line:\n%s", stat)
	}
	stat = re.ReplaceAll(stat, []byte("btime "+strconv.FormatInt(bootTime.Unix(), 10)))
	if err := os.WriteFile(filepath.Join(h.procfs, "stat"), stat, 0o644); err != nil {
		t.Fatal(err)
	}
	return h
}

// run runs the real binary and returns its exit status and output.
func run(t *testing.T, bin string, args ...string) (int, []byte) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.Bytes()
	}
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, errb.Bytes())
	}
	return 0, out.Bytes()
}

// sysrootRun is `run --sysroot` of the real binary with a host
// configuration that names the host's textfile directory: the run
// writes atomic-selftest.prom there itself.
func (h *host) sysrootRun(t *testing.T, bin, promtool, sysroot string) *record.Record {
	t.Helper()
	cfg := testutil.WriteFile(t, t.TempDir(), "config.d/50-metrics.toml",
		fmt.Sprintf("[report]\ntextfile_dir = %q\n", h.textfile))
	code, out := run(t, bin, "run", "--sysroot", sysroot, "--results-dir", h.results,
		"--config-dir", filepath.Dir(cfg), "--trigger", "boot", "--report", "no", "--format", "json")
	var rec record.Record
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatalf("%s: run exited %d with no record: %v\n%s", h.name, code, err, out)
	}
	if want := map[bool]int{true: 0, false: 1}[rec.Summary.OK]; code != want {
		t.Fatalf("%s: run exited %d, want %d for ok=%v", h.name, code, want, rec.Summary.OK)
	}
	b, err := os.ReadFile(filepath.Join(h.textfile, "atomic-selftest.prom"))
	if err != nil {
		t.Fatalf("%s: the run wrote no textfile: %v", h.name, err)
	}
	checkMetrics(t, promtool, h.name+": the run's textfile", b)
	return &rec
}

// checkMetrics has Prometheus's promtool parse and lint what a host
// wrote (issue 32): names, units, HELP and TYPE.
func checkMetrics(t *testing.T, promtool, what string, b []byte) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("%s: promtool check metrics: %v\n%s", what, err, out)
	}
}

// deployment is the default deployment of s as ostree.booted records a
// booted one. A --sysroot run judges an image that is not booted, so
// its record has no booted deployment; the test gives it the one
// `ostree admin status` lists first, as a boot of that sysroot would.
func deployment(s *ostreetest.Sysroot) *record.Deployment {
	e := s.Status()[0]
	return &record.Deployment{OSName: e.OSName, Checksum: e.Checksum, Serial: e.Serial, Version: e.Version, Refspec: e.Refspec}
}

// rewrite changes the host's only saved record with edit, then has the
// real binary print it (`results --format prometheus`) into the
// textfile, as [report] textfile_dir would have after such a run.
func (h *host) rewrite(t *testing.T, bin, promtool string, edit func(*record.Record)) {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(h.results, "run-*.json"))
	if len(paths) != 1 {
		t.Fatalf("%s: %d records, want 1", h.name, len(paths))
	}
	b, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	var rec record.Record
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	edit(&rec)
	if b, err = json.Marshal(&rec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := run(t, bin, "results", "--results-dir", h.results, "--format", "prometheus")
	if code != 0 && code != 1 {
		t.Fatalf("%s: results exited %d:\n%s", h.name, code, out)
	}
	checkMetrics(t, promtool, h.name+": results --format prometheus", out)
	if err := os.WriteFile(filepath.Join(h.textfile, "atomic-selftest.prom"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// daemon starts argv in the background, logging to a file in the test's
// directory, and stops it (SIGTERM, then SIGKILL after 5 s) when the test
// ends.
func daemon(t *testing.T, logDir, name string, argv ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("--- %s log (tail)\n%s", name, b)
		}
	})
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// getJSON GETs url into v, bounded.
func getJSON(ctx context.Context, url string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(b, v)
}

// waitReady polls url until it answers 200 or the deadline passes.
func waitReady(t *testing.T, ctx context.Context, name, url string) {
	t.Helper()
	var err error
	for ctx.Err() == nil {
		if err = getJSON(ctx, url, nil); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s not ready at %s within %s: %v", name, url, fleetWait, err)
}

// amAlert is one alert of Alertmanager's API v2 (GET /api/v2/alerts).
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// key names an alert by the labels that tell the expected ones apart.
func key(alertname, instance, version, id string) string {
	return strings.Join([]string{alertname, instance, version, id}, "|")
}

// zeroFor copies the rules with every `for` set to 0s: the test proves
// the expressions and the path to Alertmanager, the unit tests prove the
// `for` durations.
func zeroFor(t *testing.T, dst string) {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^(\s+for: ).*$`)
	if len(re.FindAll(b, -1)) == 0 {
		t.Fatalf("%s has no `for`: the pattern is stale", rulesFile)
	}
	if err := os.WriteFile(dst, re.ReplaceAll(b, []byte("${1}0s")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFleetAlertsReachAlertmanager runs the fleet for real on loopback:
// four hosts whose textfiles the real atomic-selftest wrote, a real
// node_exporter for each reading its textfile directory, a real
// Prometheus scraping them with the shipped rules, and a real
// Alertmanager receiving. The hosts:
//
//	good      12.3, `run --sysroot` of a sound sysroot: passes
//	failing   12.3, `run --sysroot` of a sysroot whose boot entries are gone
//	rolled    12.2, a passing run on 12.2 whose record then says
//	          atomic-selftest rolled it back from 12.3 (what the boot after
//	          a [health] rollback records; the health policy cannot act on
//	          a --sysroot run), printed by `results --format prometheus`
//	silent    12.2, a run 30 days old; the host booted 10 minutes ago; a
//	          file of another program in its textfile directory is garbled
//
// and the alerts that must arrive: the failing host's required check with
// its id, the rollback with its versions, the silent host three times (not
// run since its boot, no recent run, an unreadable textfile), and the
// rollout of 12.3 (two of three hosts failed with it). Nothing else may
// fire.
func TestFleetAlertsReachAlertmanager(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the fleet test builds sysroots and starts six daemons")
	}
	nodeExporter := testutil.NeedCommand(t, "prometheus", "prometheus-node-exporter")
	promBin := testutil.NeedCommand(t, "prometheus", "prometheus")
	amBin := testutil.NeedCommand(t, "prometheus", "prometheus-alertmanager")
	promtoolBin := testutil.NeedCommand(t, "prometheus", "promtool")
	bin := testutil.BuildBinary(t, "./cmd/atomic-selftest")

	// Sysroots made by the real ostree: 12.2 alone, 12.2 then 12.3, and
	// 12.2 then 12.3 with the boot entries removed.
	sysroot := func(versions ...string) *ostreetest.Sysroot {
		s := ostreetest.New(t, "fedora")
		for i, v := range versions {
			s.Deploy("fedora", s.Commit("fedora/x86_64", v, fmt.Sprint("k", i)))
		}
		return s
	}
	old, cur, broken := sysroot("12.2"), sysroot("12.2", "12.3"), sysroot("12.2", "12.3")
	v122, v123, vBroken := deployment(old), deployment(cur), deployment(broken)
	if err := os.RemoveAll(filepath.Join(broken.Dir, "boot", "loader", "entries")); err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	booted := now.Add(-10 * time.Minute)
	good, failing, rolled, silent := newHost(t, "good", booted), newHost(t, "failing", booted), newHost(t, "rolled", booted), newHost(t, "silent", booted)
	hosts := []*host{good, failing, rolled, silent}

	if v122.Version != "12.2" || v123.Version != "12.3" {
		t.Fatalf("ostree admin status: default deployments %q and %q, want 12.2 and 12.3", v122.Version, v123.Version)
	}
	if rec := good.sysrootRun(t, bin, promtoolBin, cur.Dir); !rec.Summary.OK {
		t.Fatalf("good: the run on 12.3 should pass: %+v", rec.Summary)
	}
	good.rewrite(t, bin, promtoolBin, func(r *record.Record) { r.Deployment = v123 })
	frec := failing.sysrootRun(t, bin, promtoolBin, broken.Dir)
	if frec.Summary.OK || len(frec.Summary.RequiredBad) == 0 {
		t.Fatalf("failing: the run should fail a required check: %+v", frec.Summary)
	}
	failing.rewrite(t, bin, promtoolBin, func(r *record.Record) { r.Deployment = vBroken })
	rolled.sysrootRun(t, bin, promtoolBin, old.Dir)
	rolled.rewrite(t, bin, promtoolBin, func(r *record.Record) {
		r.Deployment = v122
		r.Transition = &record.Transition{Kind: record.TransitionRollback, By: record.TransitionByAtomicSelftest,
			From: v123, To: v122, Reason: "runtime.run failed"}
	})
	silent.sysrootRun(t, bin, promtoolBin, old.Dir)
	silent.rewrite(t, bin, promtoolBin, func(r *record.Record) {
		r.Deployment = v122
		r.Start, r.End = r.Start.Add(-30*24*time.Hour), r.End.Add(-30*24*time.Hour)
	})

	// Another program's file beside the silent host's, one node_exporter
	// cannot parse.
	testutil.WriteFile(t, silent.textfile, "other.prom", "other_metric{label=\"unterminated} 1\n")

	ctx, cancel := context.WithTimeout(context.Background(), fleetWait)
	defer cancel()
	logs := t.TempDir()
	for _, h := range hosts {
		h.addr = freeAddr(t)
		daemon(t, logs, "node_exporter-"+h.name, nodeExporter,
			"--web.listen-address="+h.addr,
			"--collector.disable-defaults", "--collector.textfile", "--collector.stat",
			"--collector.textfile.directory="+h.textfile, "--path.procfs="+h.procfs)
	}
	amAddr, promAddr := freeAddr(t), freeAddr(t)
	amCfg := testutil.WriteFile(t, t.TempDir(), "alertmanager.yml", `route:
  receiver: test
  group_by: [alertname, instance]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
`)
	daemon(t, logs, "alertmanager", amBin, "--config.file="+amCfg, "--storage.path="+t.TempDir(),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")

	promDir := t.TempDir()
	zeroFor(t, filepath.Join(promDir, "rules.yml"))
	var targets []string
	for _, h := range hosts {
		targets = append(targets, strconv.Quote(h.addr))
	}
	promCfg := testutil.WriteFile(t, promDir, "prometheus.yml", fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: node
    static_configs:
      - targets: [%s]
`, amAddr, strings.Join(targets, ", ")))
	consoles := filepath.Join(promDir, "consoles")
	testutil.WriteFile(t, consoles, "alerts.html", expandedAlerts)
	daemon(t, logs, "prometheus", promBin, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(promDir, "data"),
		"--web.listen-address="+promAddr, "--rules.alert.resend-delay=1s",
		"--web.console.templates="+consoles, "--web.console.libraries="+consoles)

	for _, h := range hosts {
		waitReady(t, ctx, "node_exporter "+h.name, "http://"+h.addr+"/metrics")
	}
	waitReady(t, ctx, "alertmanager", "http://"+amAddr+"/-/ready")
	waitReady(t, ctx, "prometheus", "http://"+promAddr+"/-/ready")

	want := map[string]map[string]string{
		key("AtomicSelftestRolledBack", rolled.addr, "", ""):         {"from_version": "12.3", "to_version": "12.2"},
		key("AtomicSelftestNotRunSinceBoot", silent.addr, "", ""):    {},
		key("AtomicSelftestNoRecentRun", silent.addr, "", ""):        {},
		key("AtomicSelftestTextfileUnreadable", silent.addr, "", ""): {},
		key("AtomicSelftestRolloutFailing", "", "12.3", ""):          {"osname": "fedora"},
	}
	// One alert per failing required check (blocked dependants too).
	for _, id := range frec.Summary.RequiredBad {
		want[key("AtomicSelftestRequiredCheckFailing", failing.addr, "12.3", id)] = map[string]string{"osname": "fedora", "required": "true"}
	}
	start := time.Now()
	var got map[string]amAlert
	for {
		var alerts []amAlert
		err := getJSON(ctx, "http://"+amAddr+"/api/v2/alerts", &alerts)
		got = map[string]amAlert{}
		for _, a := range alerts {
			l := a.Labels
			got[key(l["alertname"], l["instance"], l["version"], l["id"])] = a
		}
		if err == nil && len(got) >= len(want) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("within %s Alertmanager received %d alerts, want %d: %v (last error %v)", fleetWait, len(got), len(want), keys(got), err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%d alerts at Alertmanager %s after the daemons were ready", len(got), time.Since(start).Round(100*time.Millisecond))
	for _, k := range keys(got) {
		t.Logf("  %s: %s", k, got[k].Annotations["summary"])
	}
	for k, labels := range want {
		a, ok := got[k]
		if !ok {
			t.Errorf("missing alert %q; got %v", k, keys(got))
			continue
		}
		if a.Status.State != "active" {
			t.Errorf("%s: state %q, want active", k, a.Status.State)
		}
		for l, v := range labels {
			if a.Labels[l] != v {
				t.Errorf("%s: label %s=%q, want %q (labels %v)", k, l, a.Labels[l], v, a.Labels)
			}
		}
		if a.Annotations["summary"] == "" {
			t.Errorf("%s: no summary annotation", k)
		}
	}
	for k, a := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected alert %q: %v", k, a.Labels)
		}
	}
	if t.Failed() {
		return
	}
	// The good host stays quiet while every rule has been evaluated
	// against all four hosts: Prometheus's own list holds the same alerts
	// and nothing about it.
	var pa struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := getJSON(ctx, "http://"+promAddr+"/api/v1/alerts", &pa); err != nil {
		t.Fatal(err)
	}
	if len(pa.Data.Alerts) != len(want) {
		t.Errorf("Prometheus has %d alerts, Alertmanager got %d", len(pa.Data.Alerts), len(want))
	}
	for _, a := range pa.Data.Alerts {
		if a.Labels["instance"] == good.addr {
			t.Errorf("an alert about the good host: %v", a.Labels)
		}
	}

	if *screenshot != "" {
		shoot(t, "http://"+promAddr+"/consoles/alerts.html", *screenshot)
	}

	// Every panel of the dashboard shows something for this fleet: its
	// queries run on the real Prometheus, and at least one of each
	// panel's returns series.
	for title, exprs := range dashboardQueries(t) {
		n := 0
		for _, e := range exprs {
			var qr struct {
				Status string `json:"status"`
				Data   struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			if err := getJSON(ctx, "http://"+promAddr+"/api/v1/query?query="+url.QueryEscape(e), &qr); err != nil {
				t.Errorf("panel %q: %v", title, err)
				continue
			}
			n += len(qr.Data.Result)
		}
		if n == 0 {
			t.Errorf("panel %q: no series from %q", title, exprs)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

// expandedAlerts is a console page Prometheus serves from the test's
// --web.console.templates: its alerts page (the classic one: Debian
// builds Prometheus without the React UI) in a frame of the same origin,
// with every firing alert opened, as a click on each would, so the
// screenshot shows their labels. (chromium --screenshot cannot click.)
const expandedAlerts = `<!DOCTYPE html>
<html><body style="margin:0">
<iframe id="f" src="/classic/alerts" style="border:0;width:1280px;height:3200px"></iframe>
<script>
var timer = setInterval(function () {
  var w = document.getElementById("f").contentWindow, d = w.document;
  if (d.readyState !== "complete" || !w.jQuery) { return; }
  clearInterval(timer);
  d.querySelectorAll(".alert_header.alert-danger").forEach(function (h) { h.click(); });
}, 100);
</script>
</body></html>
`

// shoot renders url in Debian's headless chromium into the PNG file out,
// with a new empty profile and nothing reaching beyond loopback.
func shoot(t *testing.T, url, out string) {
	t.Helper()
	chromium := testutil.NeedCommand(t, "chromium", "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--hide-scrollbars", "--window-size=1280,3200",
		"--virtual-time-budget=15000", "--screenshot="+out, url)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, b)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() < 10000 {
		t.Fatalf("chromium wrote no screenshot to %s: %v", out, err)
	}
}

package outer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
)

// simCycleReport runs the default plan on two simulated hosts, host01's
// self-test failing runtime.run after every reboot (one failure: C8).
func simCycleReport(t *testing.T) *report.Report {
	t.Helper()
	f := newSimFleet(t, 2, func(i int, h *simHost) { h.SelftestFails = i == 1 })
	rep := Run(context.Background(), simMachines(t, f), simOptions(t, plan.Default()))
	rep.End = time.Now().UTC()
	if rep.OK || !rep.Hosts[0].OK || rep.Hosts[1].OK {
		t.Fatalf("want host00 pass, host01 fail")
	}
	return rep
}

// artifactsDir is $ATOMIC_SELFTEST_ARTIFACTS (kept by CI) or a temporary
// directory.
func artifactsDir(t *testing.T) string {
	if d := os.Getenv("ATOMIC_SELFTEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// chromium runs Debian's chromium headless on a file with a new profile
// and everything that would phone home turned off (the machines have no
// network), logging console messages to stderr.
func chromium(t *testing.T, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, e.String())
	}
	return o.String(), e.String()
}

// consoleLines are the page's console messages in chromium's log: errors,
// and the Content-Security-Policy violations a load from outside the file
// causes.
var consoleLine = regexp.MustCompile(`(?m)^\[[^\]]*:CONSOLE[^\]]*\].*$`)

func TestReportHTMLInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	testutil.Need(t, "chromium", err == nil, "chromium is not on PATH (Debian package chromium)")

	rep := simCycleReport(t)
	art := artifactsDir(t)
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(art, "report.html")
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The page forbids every load; a page that tries one anyway shows up
	// as a console message, which proves the detection below works.
	leaky := filepath.Join(t.TempDir(), "leaky.html")
	if err := os.WriteFile(leaky, bytes.Replace(buf.Bytes(), []byte("</body>"), []byte(`<img src="http://192.0.2.1/x.png"></body>`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, leakLog := chromium(t, bin, "--dump-dom", "file://"+leaky)
	if !strings.Contains(strings.Join(consoleLine.FindAllString(leakLog, -1), "\n"), "Content Security Policy") {
		t.Fatalf("a page loading an image from the network left no console message; the check below would be blind:\n%s", leakLog)
	}

	dom, log := chromium(t, bin, "--dump-dom", "file://"+page)
	if msgs := consoleLine.FindAllString(log, -1); len(msgs) > 0 {
		t.Errorf("console messages loading report.html:\n%s", strings.Join(msgs, "\n"))
	}
	if !strings.Contains(dom, `content="default-src 'none'; style-src 'unsafe-inline'"`) {
		t.Error("the page lacks its Content-Security-Policy")
	}
	// Nothing in the page points outside it: every href is an anchor, and
	// there is no src at all.
	for _, m := range regexp.MustCompile(`\s(href|src)="([^"]*)"`).FindAllStringSubmatch(dom, -1) {
		if m[1] == "src" || !strings.HasPrefix(m[2], "#") {
			t.Errorf("the page refers outside itself: %s", m[0])
		}
	}
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]*)"`).FindAllStringSubmatch(dom, -1) {
		ids[m[1]] = true
	}

	// The matrix, as the browser built it: a cell per host, step and
	// criterion.
	cells := map[string]string{}
	cellRE := regexp.MustCompile(`<td class="c ([a-z]+)" data-host="([^"]*)" data-step="([^"]*)" data-crit="([^"]*)" data-status="([^"]*)"><a href="#([^"]*)">`)
	for _, m := range cellRE.FindAllStringSubmatch(dom, -1) {
		key := m[2] + " " + m[3] + " " + m[4]
		cells[key] = m[5]
		if !ids[m[6]] {
			t.Errorf("cell %s links to #%s, which is not in the page", key, m[6])
		}
		if m[5] != "" && m[1] != report.StatusClass(m[5]) {
			t.Errorf("cell %s: %s coloured %s", key, m[5], m[1])
		}
	}
	steps := plan.Default().Steps
	crits := rep.Criteria()
	if len(cells) != 2*len(steps)*len(crits) {
		t.Errorf("%d matrix cells, want %d hosts × %d steps × %d criteria", len(cells), 2, len(steps), len(crits))
	}
	for _, h := range rep.Hosts {
		for _, s := range h.Steps {
			for _, c := range crits {
				key := h.Host + " " + s.Name + " " + c
				if got, want := cells[key], report.Cell(s, c); got != want {
					t.Errorf("cell %s: %q, want %q", key, got, want)
				}
			}
		}
	}
	// The one failure: runtime.run (C8) on host01 after each reboot, and
	// the failed step's own criterion.
	if got := cells["host01 rpm-ostree-upgrade C8"]; got != "FAIL" {
		t.Errorf("host01 upgrade C8: %q", got)
	}
	if got := cells["host01 rpm-ostree-upgrade C3"]; got != "FAIL" {
		t.Errorf("host01 upgrade C3: %q", got)
	}
	if got := cells["host00 rpm-ostree-upgrade C8"]; got != "pass" {
		t.Errorf("host00 upgrade C8: %q", got)
	}
	if !strings.Contains(dom, "docker run hello: exit status 125") {
		t.Error("the failing check's message is not in the page")
	}
	if n := strings.Count(dom, "<svg "); n != 2*len(steps) {
		t.Errorf("%d timeline bars, want one per host and step", n)
	}

	shot := filepath.Join(art, "report.png")
	chromium(t, bin, "--screenshot="+shot, "--window-size=1280,2000", "--hide-scrollbars", "file://"+page)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("report.html and report.png in %s", art)
}

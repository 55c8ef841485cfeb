package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/format"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// cli runs the command in-process.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := realMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestListNamesHostChecks(t *testing.T) {
	code, out, _ := cli(t, "list")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"host.boot", "host.var", "C1"} {
		if !strings.Contains(out, want) {
			t.Errorf("list output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunAndResultsEveryFormat is the "not an ostree host" promise: every
// check passes or skips with a reason, and the run reads back in every
// format.
func TestRunAndResultsEveryFormat(t *testing.T) {
	dir := t.TempDir()
	// The probes cannot run this test binary: give them the static build.
	code, out, stderr := cli(t, "run", "--results-dir", dir, "--format", "json", "--probe-binary", binary(t))
	if code != ExitOK {
		t.Fatalf("run exit %d\n%s\n%s", code, out, stderr)
	}
	var rec record.Record
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("run --format json is not a record: %v", err)
	}
	for _, c := range rec.Checks {
		if c.Status != record.StatusPass && c.Status != record.StatusSkip {
			t.Errorf("%s: %s %q", c.ID, c.Status, c.Message)
		}
		if c.Status == record.StatusSkip && c.Message == "" {
			t.Errorf("%s skipped without a reason", c.ID)
		}
	}
	if rec.Schema != record.SchemaVersion || rec.BootID == "" || rec.ID == "" {
		t.Errorf("record identity incomplete: schema %d boot %q id %q", rec.Schema, rec.BootID, rec.ID)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("results directory mode %v, want 0700", fi.Mode().Perm())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, fi.Mode().Perm())
		}
	}

	for _, f := range format.Names() {
		code, out, stderr := cli(t, "results", "--results-dir", dir, "--format", f)
		if code != ExitOK {
			t.Fatalf("results --format %s: exit %d: %s", f, code, stderr)
		}
		switch f {
		case "junit":
			var doc format.JUnitSuites
			if err := xml.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("junit is not well-formed: %v\n%s", err, out)
			}
			host, _ := os.Hostname()
			if len(doc.Suites) != 1 || !strings.Contains(doc.Suites[0].Name, host) || len(doc.Suites[0].Cases) != len(rec.Checks) {
				t.Errorf("junit suites: %+v", doc.Suites)
			}
			if doc.Suites[0].Cases[0].Name != rec.Checks[0].ID {
				t.Errorf("testcase name %q, want the check id %q", doc.Suites[0].Cases[0].Name, rec.Checks[0].ID)
			}
		case "json":
			var recs []record.Record
			if err := json.Unmarshal([]byte(out), &recs); err != nil || len(recs) != 1 || recs[0].ID != rec.ID {
				t.Errorf("results json: %v %d", err, len(recs))
			}
		case "tap":
			if !strings.HasPrefix(out, "TAP version 13\n1..") {
				t.Errorf("tap header: %q", out)
			}
		case "text":
			if !strings.Contains(out, "host.var") || !strings.Contains(out, "PASS") {
				t.Errorf("text: %s", out)
			}
		}
	}
	code, out, _ = cli(t, "status", "--results-dir", dir)
	if code != ExitOK || !strings.Contains(out, "1 recorded") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := t.TempDir()
	testutil.WriteFile(t, cfg, "10-bad.toml", "[results]\nkeep = 0\n")
	unknown := t.TempDir()
	testutil.WriteFile(t, unknown, "10-x.toml", "[checks]\ndisable = [\"no.such\"]\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--format", "xml"}, `unknown format "xml"`},
		{[]string{"run", "--check", "no.such", "--results-dir", dir}, `unknown check "no.such"`},
		{[]string{"run", "--trigger", "cron", "--no-save"}, `--trigger: "cron"`},
		{[]string{"run", "--config-dir", cfg, "--no-save"}, "10-bad.toml: results.keep: must be at least 1"},
		{[]string{"run", "--config-dir", unknown, "--no-save"}, `10-x.toml: checks.disable: unknown check "no.such"`},
		{[]string{"results", "--last", "-1", "--results-dir", dir}, "--last"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run", "--bogus"}, "unknown flag: --bogus"},
	} {
		code, _, stderr := cli(t, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, ExitUsage, tc.want)
		}
	}
}

func binary(t *testing.T) string {
	return testutil.BuildBinary(t, "./cmd/atomic-selftest")
}

// runBinary runs the real binary (a separate process).
func runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// checkIntact reads every record and state file in dir and fails on any
// that is unreadable or partial.
func checkIntact(t *testing.T, dir string) int {
	t.Helper()
	st := &store.Store{Dir: dir}
	recs, problems, err := st.Runs(store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("unreadable record after a kill: %v", p)
	}
	for _, name := range []string{store.LastRunFile, store.LastDeploymentFile} {
		var v map[string]any
		if _, err := st.ReadJSON(name, &v); err != nil {
			t.Errorf("state file garbled: %v", err)
		}
	}
	return len(recs)
}

// TestKilledRunsLeaveRecordsReadable kills real runs with SIGKILL at random
// instants spread over a whole run, saving included, 200 times.
func TestKilledRunsLeaveRecordsReadable(t *testing.T) {
	dir := t.TempDir()
	args := []string{"run", "--check", "host.var", "--results-dir", dir, "--report", "no", "--format", "json"}
	// Measure normal runs to spread the kills over a whole run's length.
	binary(t)
	var span time.Duration
	for i := 0; i < 3; i++ {
		start := time.Now()
		if code, out := runBinary(t, args...); code != 0 {
			t.Fatalf("baseline run: %d %s", code, out)
		}
		if d := time.Since(start); d > span {
			span = d
		}
	}
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	const trials = 200
	completed := 0
	for i := 0; i < trials; i++ {
		before := checkIntact(t, dir)
		cmd := exec.Command(binary(t), args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int63n(int64(span))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		after := checkIntact(t, dir)
		if err == nil {
			completed++
		}
		if after < before && after < 100 {
			t.Fatalf("trial %d: a kill lost records: %d before, %d after", i, before, after)
		}
		if t.Failed() {
			t.Fatalf("trial %d left the results damaged", i)
		}
	}
	t.Logf("%d trials, %d runs completed before the kill, run length ~%s", trials, completed, span)
	// The next run takes the lock, removes the strays and works.
	if code, out := runBinary(t, args...); code != 0 {
		t.Fatalf("run after the kills: %d %s", code, out)
	}
	strays, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if len(strays) > 0 {
		t.Errorf("temporary files left after a clean run: %v", strays)
	}
}

// TestConcurrentRunsBothLand starts two real runs at once.
func TestConcurrentRunsBothLand(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i], _ = runBinary(t, "run", "--check", "host.var", "--results-dir", dir, "--report", "no")
		}(i)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 {
			t.Errorf("run %d exited %d", i, c)
		}
	}
	if n := checkIntact(t, dir); n != len(codes) {
		t.Errorf("%d records, want %d", n, len(codes))
	}
}

// TestLockTimeout holds the results lock and expects a run to give up
// with the documented code and a clear message.
func TestLockTimeout(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := st.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	cfg := t.TempDir()
	testutil.WriteFile(t, cfg, "lock.toml", "[results]\nlock_timeout = \"300ms\"\n")
	code, out := runBinary(t, "run", "--results-dir", dir, "--config-dir", cfg, "--report", "no")
	if code != ExitLocked || !strings.Contains(out, "another atomic-selftest run holds the results lock") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

// TestDiskFull fills a tiny tmpfs: the run must exit with the documented
// code, say why, and keep the earlier records.
func TestDiskFull(t *testing.T) {
	testutil.NeedRoot(t)
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k,mode=0700"); err != nil {
		testutil.Need(t, "tmpfs", false, fmt.Sprintf("mounting a tmpfs: %v", err))
	}
	t.Cleanup(func() { _ = syscall.Unmount(mnt, syscall.MNT_DETACH) })
	dir := filepath.Join(mnt, "results")
	args := []string{"run", "--check", "host.var", "--results-dir", dir, "--report", "no", "--format", "json"}
	for i := 0; i < 2; i++ {
		if code, out := runBinary(t, args...); code != 0 {
			t.Fatalf("run %d before filling: %d %s", i, code, out)
		}
	}
	before := checkIntact(t, dir)
	// Fill what is left.
	f, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	code, out := runBinary(t, args...)
	if code != ExitNoSave || !strings.Contains(out, "no space left") {
		t.Fatalf("exit %d, want %d with a no-space message; output:\n%s", code, ExitNoSave, out)
	}
	// The run itself still printed its record.
	if !strings.Contains(out, `"host.var"`) {
		t.Errorf("the finished run was not printed:\n%s", out)
	}
	if after := checkIntact(t, dir); after != before {
		t.Errorf("records before %d, after %d", before, after)
	}
	// Read-only: remount and expect the same code.
	os.Remove(filepath.Join(mnt, "filler"))
	if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	code, out = runBinary(t, args...)
	if code != ExitNoSave || !strings.Contains(out, "not writable") {
		t.Fatalf("read-only: exit %d, output:\n%s", code, out)
	}
	if after := checkIntact(t, dir); after != before {
		t.Errorf("read-only: records before %d, after %d", before, after)
	}
}

func TestVersionMatchesFile(t *testing.T) {
	root, _ := testutil.ModuleRoot()
	want, _ := os.ReadFile(filepath.Join(root, "VERSION"))
	_, out, _ := cli(t, "version")
	if !strings.HasPrefix(out, "atomic-selftest "+strings.TrimSpace(string(want))+" ") {
		t.Errorf("version %q, VERSION file %q", out, want)
	}
}

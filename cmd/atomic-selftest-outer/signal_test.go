package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/outer/outertest"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
)

// The built binary gets a real SIGINT in the middle of a run: it ends the
// running steps, writes the reports and exits 4.
func TestSIGINT(t *testing.T) {
	goBin := testutil.NeedCommand(t, "go", "go")
	bin := filepath.Join(t.TempDir(), "atomic-selftest-outer")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	f := outertest.NewFleet(t, 2, func(_ int, h *outertest.Host) { h.DownFor = 300 * time.Millisecond })
	arts := filepath.Join(t.TempDir(), "a")
	cmd := exec.Command(bin, simArgs(t, f, "--known-hosts", f.KnownHosts, "--artifacts", arts)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var lines []string
	started := 0
	for sc.Scan() {
		lines = append(lines, sc.Text())
		// Both hosts past their baseline: interrupt.
		if strings.Contains(sc.Text(), "rpm-ostree-upgrade: start") {
			if started++; started == 2 {
				cmd.Process.Signal(syscall.SIGINT)
				break
			}
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no exit 30s after SIGINT; stderr so far:\n%s", strings.Join(lines, "\n"))
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitInterrupted {
		t.Fatalf("exit: %v, want %d", err, ExitInterrupted)
	}
	var rep report.Report
	data, err := os.ReadFile(filepath.Join(arts, "report.json"))
	if err != nil || json.Unmarshal(data, &rep) != nil || !rep.Interrupted || len(rep.Hosts) != 2 {
		t.Fatalf("report.json: %v %+v", err, rep)
	}
	for _, h := range rep.Hosts {
		if h.Steps[0].Status != report.StepPass || h.Steps[len(h.Steps)-1].Status != report.StepInterrupted {
			t.Errorf("%s: first step %s, last %s", h.Host, h.Steps[0].Status, h.Steps[len(h.Steps)-1].Status)
		}
	}
	if _, err := os.Stat(filepath.Join(arts, "junit.xml")); err != nil {
		t.Error(err)
	}
}

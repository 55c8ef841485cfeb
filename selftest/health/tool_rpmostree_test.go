package health

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
)

// startRpmostreed runs testdata/rpmostreed-standin.py (rpmostreed's D-Bus
// interface, see the script for the source it follows) on a private
// system bus, rolling back sysroot; it returns its call log.
func startRpmostreed(t *testing.T, sysroot, mode string) string {
	t.Helper()
	testutil.StartSystemBus(t)
	py := needGI(t)
	log := filepath.Join(t.TempDir(), "calls.log")
	cmd := exec.Command(py, "testdata/rpmostreed-standin.py", sysroot, log, mode)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("rpmostreed stand-in did not start: %s", stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("rpmostreed stand-in: no ready line in 20s: %s", stderr.String())
	}
	return log
}

// TestRPMOstreeDBusRollback: the rollback goes through OS.Rollback and a
// started transaction, which (in the stand-in, as in rpmostreed) reorders
// a real sysroot with libostree; the CLI is not run.
func TestRPMOstreeDBusRollback(t *testing.T) {
	sr, newer, older := ostreetest.TwoDeployments(t)
	log := startRpmostreed(t, sr.Dir, "ok")
	dir := t.TempDir()
	cliLog := standIn(t, dir, "rpm-ostree", "rpm-ostree-status.json", 0)
	onlyPath(t, dir)
	if err := (rpmOstree{cmd: selftest.ExecCommander{}}).Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, log); got != "Sysroot.Booted\nOS.Rollback /org/projectatomic/rpmostree1/fedora_atomic {}\nTransaction.Start\n" {
		t.Errorf("D-Bus calls: %q", got)
	}
	if got := readLog(t, cliLog); got != "" {
		t.Errorf("the CLI ran as well: %q", got)
	}
	if st := sr.Status(); st[0].Checksum != older || st[1].Checksum != newer {
		t.Fatalf("order after the rollback: %+v", st)
	}
}

// TestRPMOstreeDBusFailure: a transaction that finishes unsuccessfully
// is an error with rpmostreed's message, and nothing else is tried.
func TestRPMOstreeDBusFailure(t *testing.T) {
	sr, newer, _ := ostreetest.TwoDeployments(t)
	startRpmostreed(t, sr.Dir, "fail")
	dir := t.TempDir()
	cliLog := standIn(t, dir, "rpm-ostree", "rpm-ostree-status.json", 0)
	onlyPath(t, dir)
	err := (rpmOstree{cmd: selftest.ExecCommander{}}).Rollback(context.Background())
	if err == nil || err.Error() != "rpmostreed: the rollback failed: injected failure" {
		t.Fatalf("got %v", err)
	}
	if got := readLog(t, cliLog); got != "" || sr.Status()[0].Checksum != newer {
		t.Errorf("after a failed transaction: CLI %q, order %+v", got, sr.Status())
	}
}

// TestRPMOstreeCLIFallback: with no rpmostreed on the bus, the CLI's
// `rpm-ostree rollback` is the way.
func TestRPMOstreeCLIFallback(t *testing.T) {
	testutil.StartSystemBus(t)
	dir := t.TempDir()
	cliLog := standIn(t, dir, "rpm-ostree", "rpm-ostree-status.json", 0)
	onlyPath(t, dir)
	if err := (rpmOstree{cmd: selftest.ExecCommander{}}).Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, cliLog); got != "rollback\n" {
		t.Errorf("CLI: %q", got)
	}
}

package health

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
)

// standIn puts an executable name on a PATH of its own that logs its
// argv to a file and answers `status` with fixture; it returns the log.
// The stand-ins are scripts because the tools are driven by fork/exec;
// their command lines are bootc's and rpm-ostree's (see tool_bootc.go,
// tool_rpmostree.go for the source they are taken from).
func standIn(t *testing.T, dir, name, fixture string, rollbackExit int) string {
	t.Helper()
	log := filepath.Join(dir, name+".log")
	data, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		t.Fatal(err)
	}
	fixturePath := filepath.Join(dir, name+".json")
	if err := os.WriteFile(fixturePath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$*\" >> '" + log + "'\n" +
		"case \"$1\" in\n" +
		"status) cat '" + fixturePath + "' ;;\n" +
		"rollback) echo 'no rollback deployment' >&2; exit " + map[bool]string{true: "1", false: "0"}[rollbackExit != 0] + " ;;\n" +
		"*) echo \"unknown verb $1\" >&2; exit 2 ;;\n" +
		"esac\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return log
}

func readLog(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// onlyPath makes dir (and /usr/bin for sh and cat) the whole PATH.
func onlyPath(t *testing.T, dir string) {
	t.Setenv("PATH", dir+":/usr/bin:/bin")
}

// TestDetectBootc: bootc comes first where it manages the host
// (.status.booted != null), and its rollback is `bootc rollback`.
func TestDetectBootc(t *testing.T) {
	dir := t.TempDir()
	bootcLog := standIn(t, dir, "bootc", "bootc-status-booted.json", 0)
	rpmLog := standIn(t, dir, "rpm-ostree", "rpm-ostree-status.json", 0)
	onlyPath(t, dir)
	tool, err := Detect(context.Background(), config.Defaults().Health, selftest.ExecCommander{})
	if err != nil || tool.Name() != "bootc" {
		t.Fatalf("detect: %v %v", tool, err)
	}
	if err := tool.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, bootcLog); got != "status --format=json --format-version=1\nrollback\n" {
		t.Errorf("bootc was run as %q", got)
	}
	if got := readLog(t, rpmLog); got != "" {
		t.Errorf("rpm-ostree was run on a bootc host: %q", got)
	}
}

// TestDetectRPMOstree: bootc is installed but does not manage the host
// (status.booted null), so rpm-ostree, which lists a booted deployment,
// rolls back (here through its CLI: the private bus has no rpmostreed;
// the D-Bus path is in tool_rpmostree_test.go).
func TestDetectRPMOstree(t *testing.T) {
	testutil.StartSystemBus(t)
	dir := t.TempDir()
	standIn(t, dir, "bootc", "bootc-status-null.json", 0)
	rpmLog := standIn(t, dir, "rpm-ostree", "rpm-ostree-status.json", 0)
	onlyPath(t, dir)
	tool, err := Detect(context.Background(), config.Defaults().Health, selftest.ExecCommander{})
	if err != nil || tool.Name() != "rpm-ostree" {
		t.Fatalf("detect: %v %v", tool, err)
	}
	if err := tool.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, rpmLog); got != "status --json\nrollback\n" {
		t.Errorf("rpm-ostree was run as %q", got)
	}
}

// TestRollbackFailureNamesTheTool: a tool exiting non-zero is an error
// that names the command and carries its last stderr line.
func TestRollbackFailureNamesTheTool(t *testing.T) {
	dir := t.TempDir()
	standIn(t, dir, "bootc", "bootc-status-booted.json", 1)
	onlyPath(t, dir)
	p := config.Defaults().Health
	p.Tool = config.HealthToolBootc
	tool, _ := Detect(context.Background(), p, selftest.ExecCommander{})
	err := tool.Rollback(context.Background())
	if err == nil || !strings.Contains(err.Error(), "bootc rollback exited with status 1: no rollback deployment") {
		t.Fatalf("got %v", err)
	}
}

// TestDetectNoTool: a plain ostree host without health.rollback_command
// cannot roll back, and the error says what to set.
func TestDetectNoTool(t *testing.T) {
	onlyPath(t, t.TempDir())
	_, err := Detect(context.Background(), config.Defaults().Health, selftest.ExecCommander{})
	if !errors.Is(err, ErrNoTool) || !strings.Contains(err.Error(), "health.rollback_command is not set") {
		t.Fatalf("got %v", err)
	}
}

// TestToolOverride: tool = "command" wins over a bootc-managed host.
func TestToolOverride(t *testing.T) {
	dir := t.TempDir()
	standIn(t, dir, "bootc", "bootc-status-booted.json", 0)
	onlyPath(t, dir)
	p := config.Defaults().Health
	p.Tool, p.RollbackCommand = config.HealthToolCommand, []string{"true"}
	tool, err := Detect(context.Background(), p, selftest.ExecCommander{})
	if err != nil || tool.Name() != "command" {
		t.Fatalf("%v %v", tool, err)
	}
}

// TestCommandRollbackRealSysroot: on a plain ostree host (no bootc, no
// rpm-ostree) the configured argv rolls back a real sysroot made by
// ostree, with libostree's own write_deployments (outer/family/rollback.py, what
// the VM testbed installs as ostree-rollback).
func TestCommandRollbackRealSysroot(t *testing.T) {
	sr, newer, older := ostreetest.TwoDeployments(t)
	py := needGI(t)
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if st := sr.Status(); st[0].Checksum != newer || st[1].Checksum != older {
		t.Fatalf("before: %+v", st)
	}
	onlyPath(t, t.TempDir())
	p := config.Defaults().Health
	p.OnFailure, p.RollbackCommand = "rollback", []string{py, filepath.Join(root, "outer", "family", "rollback.py"), sr.Dir}
	tool, err := Detect(context.Background(), p, selftest.ExecCommander{})
	if err != nil || tool.Name() != "command" {
		t.Fatalf("detect: %v %v", tool, err)
	}
	if err := tool.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := sr.Status()
	if len(st) != 2 || st[0].Checksum != older || st[1].Checksum != newer {
		t.Fatalf("after the rollback the boot order is %+v, want %s then %s", st, older[:10], newer[:10])
	}
}

// needGI returns Debian's Python (python3-gi lives there, not in a
// Python on PATH) after checking that libostree imports through GObject
// introspection (gir1.2-ostree-1.0).
func needGI(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	probe := []string{py, "-c", "import gi; gi.require_version('OSTree', '1.0'); from gi.repository import OSTree, Gio"}
	_, _, err := selftest.ExecCommander{}.Command(context.Background(), detectTimeout, probe...)
	testutil.Need(t, "python3-gi", err == nil, "gi.repository.OSTree does not import under "+py)
	return py
}

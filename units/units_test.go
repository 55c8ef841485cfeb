// Package units holds the systemd units; this test verifies them with
// systemd's own checker.
package units

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

var unitFiles = []string{"atomic-selftest.service", "atomic-selftest-deployment.service", "atomic-selftest-deployment.path",
	"atomic-selftest-deadline.timer", "atomic-selftest-deadline.service"}

// TestUnitsVerify installs the units and the real binary into an empty root
// the way the RPM does and runs `systemd-analyze verify --root`, which
// fails on unknown keys, bad values and a missing ExecStart binary.
func TestUnitsVerify(t *testing.T) {
	if problems := verify(t, nil); len(problems) > 0 {
		t.Errorf("systemd-analyze verify:\n%s", strings.Join(problems, "\n"))
	}
	// The checker must really see our files: a broken copy is reported.
	broken, _ := os.ReadFile("atomic-selftest.service")
	bad := strings.Replace(string(broken), "Type=oneshot", "Type=oneshot\nFrobnicate=yes\nExecStart=/usr/bin/no-such-binary", 1)
	if problems := verify(t, map[string]string{"atomic-selftest.service": bad}); len(problems) == 0 {
		t.Error("a unit with an unknown key and a missing binary passed verification")
	}
}

// verify installs the units (with overrides by name) into a fresh root and
// returns the lines systemd-analyze printed about them.
func verify(t *testing.T, override map[string]string) []string {
	analyze := testutil.NeedCommand(t, "systemd", "systemd-analyze")
	root, paths := installRoot(t, override)
	return analyzeVerify(t, analyze, root, paths...)
}

// installRoot installs systemd's units, ours (with overrides by name),
// the real binary and the commands our units run into a fresh root, the
// way the RPM does; it returns the root and the paths of our units.
func installRoot(t *testing.T, override map[string]string) (string, []string) {
	bin := testutil.BuildBinary(t, "./cmd/atomic-selftest")
	root := t.TempDir()
	unitDir := filepath.Join(root, "usr/lib/systemd/system")
	if err := os.MkdirAll(filepath.Dir(unitDir), 0o755); err != nil {
		t.Fatal(err)
	}
	// The root needs systemd's own units (sysinit.target and friends) for
	// the default dependencies to resolve: take the installed ones.
	sys := "/usr/lib/systemd/system"
	if _, err := os.Stat(sys); err != nil {
		sys = "/lib/systemd/system"
	}
	if out, err := exec.Command("cp", "-a", sys, unitDir).CombinedOutput(); err != nil {
		t.Fatalf("copying systemd's units: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, root, "usr/bin/atomic-selftest", string(data))
	if err := os.Chmod(filepath.Join(root, "usr/bin/atomic-selftest"), 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, u := range unitFiles {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := override[u]; ok {
			b = []byte(o)
		}
		paths = append(paths, testutil.WriteFile(t, unitDir, u, string(b)))
		// The host's own commands the units call (sleep, touch, find)
		// go in as they are on this machine, so verify checks the paths.
		for _, cmd := range execCommands(string(b)) {
			if cmd == "/usr/bin/atomic-selftest" {
				continue
			}
			if data, err := os.ReadFile(cmd); err == nil {
				testutil.WriteFile(t, root, cmd, string(data))
				if err := os.Chmod(filepath.Join(root, cmd), 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return root, paths
}

// analyzeVerify runs `systemd-analyze verify --root=root` on the units
// (paths or names) and returns the lines naming our files.
func analyzeVerify(t *testing.T, analyze, root string, units ...string) []string {
	args := append([]string{"verify", "--root=" + root, "--man=no"}, units...)
	out, err := exec.Command(analyze, args...).CombinedOutput()
	// Lines about units we do not ship (docker.service is not in this
	// root) are not ours to fix; anything naming our files is a problem.
	var problems []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, u := range unitFiles {
			if strings.Contains(line, u) {
				problems = append(problems, line)
				break
			}
		}
	}
	if err != nil && len(problems) == 0 {
		problems = append(problems, "systemd-analyze verify: "+err.Error()+": "+string(out))
	}
	return problems
}

// execCommands returns the programs a unit's Exec*= lines run, without
// systemd's prefixes ("-", "@", ":", "+", "!").
func execCommands(unit string) []string {
	var out []string
	for _, line := range strings.Split(unit, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || !strings.HasPrefix(k, "Exec") {
			continue
		}
		if f := strings.Fields(v); len(f) > 0 {
			out = append(out, strings.TrimLeft(f[0], "-@:+!"))
		}
	}
	return out
}

func TestUnitsNeverDelayTheBoot(t *testing.T) {
	b, err := os.ReadFile("atomic-selftest.service")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	// It must come after the boot's target and never before anything.
	if !strings.Contains(s, "After=multi-user.target") || strings.Contains(s, "Before=") {
		t.Error("atomic-selftest.service must be ordered after multi-user.target and before nothing")
	}
	if strings.Contains(s, "DefaultDependencies=no") {
		t.Error("DefaultDependencies=no would let it run early in the boot")
	}
	for _, want := range []string{"Type=oneshot", "RemainAfterExit=yes", "--trigger boot"} {
		if !strings.Contains(s, want) {
			t.Errorf("atomic-selftest.service lacks %q", want)
		}
	}
	p, _ := os.ReadFile("atomic-selftest-deployment.path")
	d, _ := os.ReadFile("atomic-selftest-deployment.service")
	// The trigger is libostree's mtime bump of /sysroot/ostree/deploy
	// (trigger_test.go shows it fires and /boot/loader does not).
	if !strings.Contains(string(p), "PathChanged=/sysroot/ostree/deploy\n") || !strings.Contains(string(d), "--trigger deployment-change") {
		t.Error("the path unit must watch /sysroot/ostree/deploy and start a deployment-change run")
	}
	if strings.Contains(string(p), "PathChanged=/boot") {
		t.Error("PathChanged= on /boot/loader never fires for ostree's symlink swap (see the unit's comment)")
	}
}

// The deadline (issue 31) must fire while the boot is stuck: neither the
// timer nor its service may be ordered after anything a bad release can
// hang, and the service must not queue a job that waits (a oneshot's
// start job would stay in the very job list it reports). The preset
// enables the timer into timers.target, which the boot's first
// transaction pulls in.
func TestDeadlineOrderedAfterNothingABootCanHang(t *testing.T) {
	for _, u := range []string{"atomic-selftest-deadline.timer", "atomic-selftest-deadline.service"} {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if !strings.Contains(s, "\nDefaultDependencies=no\n") {
			t.Errorf("%s: without DefaultDependencies=no it is ordered after sysinit.target (and basic.target)", u)
		}
		for _, line := range strings.Split(s, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && (k == "After" || k == "Requires" || k == "Wants" || k == "BindsTo") {
				t.Errorf("%s: %s=%s orders or ties it to units a release can hang", u, k, v)
			}
		}
	}
	timer, _ := os.ReadFile("atomic-selftest-deadline.timer")
	svc, _ := os.ReadFile("atomic-selftest-deadline.service")
	for _, want := range []string{"OnBootSec=1min\n", "WantedBy=timers.target\n"} {
		if !strings.Contains(string(timer), want) {
			t.Errorf("the deadline timer lacks %q", want)
		}
	}
	for _, want := range []string{"Type=exec\n", "ExecStart=/usr/bin/atomic-selftest run --trigger deadline\n", "RuntimeMaxSec="} {
		if !strings.Contains(string(svc), want) {
			t.Errorf("the deadline service lacks %q", want)
		}
	}
	preset, err := os.ReadFile("../dist/atomic-selftest.preset")
	if err != nil || !strings.Contains(string(preset), "\nenable atomic-selftest-deadline.timer\n") {
		t.Errorf("the preset does not enable the deadline timer: %v", err)
	}

	// systemctl enables it as the RPM's preset does: into timers.target.
	systemctl := testutil.NeedCommand(t, "systemd", "systemctl")
	root, _ := installRoot(t, nil)
	if out, err := exec.Command(systemctl, "--root="+root, "enable", "atomic-selftest-deadline.timer").CombinedOutput(); err != nil {
		t.Fatalf("systemctl enable: %v\n%s", err, out)
	}
	link := filepath.Join(root, "etc/systemd/system/timers.target.wants/atomic-selftest-deadline.timer")
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("enabling the timer made no %s: %v", link, err)
	}
}

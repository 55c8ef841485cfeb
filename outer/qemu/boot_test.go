package qemu

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The boot tests need the test host image from outer/testbed/build.sh,
// which takes minutes to build; scripts/e2e.d/90-vm.sh builds it and runs
// them with ATOMIC_SELFTEST_TESTBED set (and fails when they skip), so
// `go test ./...` leaves them out.
const testbedEnv = "ATOMIC_SELFTEST_TESTBED"

// The prompt is "<host> login: ", and kernel messages may follow it on the
// same line.
var loginPrompt = regexp.MustCompile(`\S login: `)

func startTestbed(t *testing.T, name string) *VM {
	t.Helper()
	return startTestbedCache(t, name, "")
}

// startTestbedCache is startTestbed with QEMU's disk cache mode (see
// Config.DiskCache; "" is the default).
func startTestbedCache(t *testing.T, name, cache string) *VM {
	t.Helper()
	dir := os.Getenv(testbedEnv)
	if dir == "" {
		t.Skipf("%s is not set (scripts/e2e.d/90-vm.sh builds the image and runs this)", testbedEnv)
	}
	needQEMU(t)
	art := os.Getenv("ATOMIC_SELFTEST_ARTIFACTS")
	if art == "" {
		art = t.TempDir()
	}
	accel := os.Getenv("ATOMIC_SELFTEST_QEMU_ACCEL")
	vm, err := Start(context.Background(), Config{
		Name: name, Image: filepath.Join(dir, "disk.img"), Dir: t.TempDir(),
		ConsoleLog: filepath.Join(art, name+"-console.log"), Accel: accel,
		ProbeCache: filepath.Join(filepath.Dir(dir), "kvm-probe.json"), Stderr: os.Stderr,
		DiskCache: cache,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Close() })
	return vm
}

// sshRun runs argv in the guest with OpenSSH's client, host key checked
// against the known_hosts the VM wrote (test-only: the driver uses the
// outer package's SSH transport).
func sshRun(t *testing.T, vm *VM, argv ...string) (string, error) {
	t.Helper()
	host, port, _ := strings.Cut(vm.SSHAddr(), ":")
	args := []string{"-F", "/dev/null", "-i", vm.KeyFile(), "-p", port,
		"-o", "UserKnownHostsFile=" + vm.KnownHosts(), "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "root@" + host, "--"}
	var q []string
	for _, a := range argv {
		q = append(q, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "ssh", append(args, strings.Join(q, " "))...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("ssh %v: %w: %s", argv, err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

func waitLogin(t *testing.T, vm *VM, mark int, what string) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	if _, err := vm.WaitConsole(ctx, mark, loginPrompt); err != nil {
		t.Fatalf("%s: no login prompt: %v\nlast console lines:\n%s", what, err, strings.Join(vm.Console(30), "\n"))
	}
	return time.Since(start)
}

// TestBootTestbed boots the real OSTree image from the firmware, proves the
// seed reached cloud-init (host key, authorised key, host name, user
// script), and reboots it in the same QEMU process.
func TestBootTestbed(t *testing.T) {
	vm := startTestbed(t, "testbed-boot")
	d := waitLogin(t, vm, 0, "first boot")
	t.Logf("boot to login prompt: %v (accel %s)", d.Round(time.Second), vm.Accel())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	banner, err := vm.WaitSSH(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sshd: %s", banner)
	// cloud-init may still be in its final stage when sshd answers.
	if out, err := sshRun(t, vm, "cloud-init", "status", "--wait"); err != nil {
		diagnose(t, vm)
		t.Fatalf("cloud-init status: %v\n%s", err, out)
	}
	if h, err := sshRun(t, vm, "hostname"); err != nil || h != "testbed-boot" {
		t.Errorf("hostname %q (%v), want testbed-boot", h, err)
	}
	if m, err := sshRun(t, vm, "cat", DefaultMarker); err != nil || !strings.HasPrefix(m, "testbed-boot-") {
		t.Errorf("user script marker %q (%v)", m, err)
	}
	if s, err := sshRun(t, vm, "ostree", "admin", "status"); err != nil || !strings.Contains(s, "Version: 12.2") {
		t.Errorf("ostree admin status (want 12.2 booted): %v\n%s", err, s)
	}
	boot1, err := sshRun(t, vm, "cat", "/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	mark := vm.ConsoleMark()
	pid := vm.cmd.Process.Pid
	_, _ = sshRun(t, vm, "systemctl", "reboot")
	d = waitLogin(t, vm, mark, "reboot")
	t.Logf("reboot to login prompt: %v", d.Round(time.Second))
	if vm.cmd.Process.Pid != pid {
		t.Fatal("QEMU was restarted")
	}
	if _, err := vm.WaitSSH(ctx); err != nil {
		t.Fatal(err)
	}
	boot2, err := sshRun(t, vm, "cat", "/proc/sys/kernel/random/boot_id")
	if err != nil || boot2 == boot1 {
		t.Errorf("boot id after reboot %q (%v), before %q", boot2, err, boot1)
	}
}

// diagnose logs what the guest says about itself, for a failed test.
func diagnose(t *testing.T, vm *VM) {
	t.Helper()
	for _, argv := range [][]string{
		{"cloud-init", "status", "--long"},
		{"sh", "-c", "grep -i -B2 -A8 'warn\\|error\\|traceback' /var/log/cloud-init.log | tail -80"},
		{"systemctl", "--failed", "--no-pager"},
		{"ostree", "admin", "status"},
		{"journalctl", "-b", "-p", "warning", "--no-pager", "-n", "60"},
	} {
		out, err := sshRun(t, vm, argv...)
		t.Logf("$ %s (%v)\n%s", strings.Join(argv, " "), err, out)
	}
}

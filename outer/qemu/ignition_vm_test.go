package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// ignitionTestbedEnv names the Ignition variant of the test image
// (outer/testbed/build.sh --ignition); scripts/e2e.d/90-vm.sh sets it with
// E2E_VM_IGNITION=1.
const ignitionTestbedEnv = "ATOMIC_SELFTEST_TESTBED_IGNITION"

// checkRun runs the self-test's checks ids on the guest (not saved) and
// returns the results by id.
func checkRun(t *testing.T, vm *VM, ids string) map[string]record.Result {
	t.Helper()
	out, _ := sshRun(t, vm, "atomic-selftest", "run", "--no-save", "--report", "no", "--format", "json", "--check", ids)
	return results(t, out)
}

// results decodes the self-test's JSON: a run (run --format json) or the
// runs results prints (a list, newest first).
func results(t *testing.T, out string) map[string]record.Result {
	t.Helper()
	var rec record.Record
	var err error
	if strings.HasPrefix(strings.TrimSpace(out), "[") {
		var recs []record.Record
		if err = json.Unmarshal([]byte(out), &recs); err == nil && len(recs) > 0 {
			rec = recs[0]
		}
	} else {
		err = json.Unmarshal([]byte(out), &rec)
	}
	if err != nil {
		t.Fatalf("the self-test's JSON: %v\n%s", err, out)
	}
	m := map[string]record.Result{}
	for _, r := range rec.Checks {
		m[r.ID] = r
	}
	return m
}

func expectStatus(t *testing.T, what string, res map[string]record.Result, id string, status record.Status, msg string) {
	t.Helper()
	r, ok := res[id]
	if !ok {
		t.Errorf("%s: no result for %s", what, id)
		return
	}
	if r.Status != status || !strings.Contains(r.Message, msg) {
		t.Errorf("%s: %s is %s %q, want %s with %q", what, id, r.Status, r.Message, status, msg)
	}
}

// bootRecord waits for the boot-triggered run of a boot and returns it as
// JSON (results exits 1 for a failing run, which the caller judges).
func bootRecord(t *testing.T, vm *VM, boot string) string {
	t.Helper()
	out, err := sshRun(t, vm, "atomic-selftest", "results", "--wait-boot", boot, "--timeout", "10m", "--format", "json")
	if !strings.HasPrefix(out, "{") && !strings.HasPrefix(out, "[") {
		diagnose(t, vm)
		t.Fatalf("no run record of boot %s: %v\n%s", boot, err, out)
	}
	return out
}

func mustSSH(t *testing.T, vm *VM, argv ...string) string {
	t.Helper()
	out, err := sshRun(t, vm, argv...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// TestIgnitionTestbed boots the Ignition variant of the test image the way
// a user's `run --qemu-image` does (--qemu-provision auto), so the driver
// must find Ignition in the image, hand its config over fw_cfg, and log in
// with the key Ignition wrote. Then, on the first boot: the boot's own
// self-test run passes, ignition.provisioned passes on Ignition 2.14's own
// result file and journal, the cloudinit.* checks skip naming Ignition, and
// the faults are caught (a key file Ignition wrote removed, the host name
// changed, the result file gone on a host booted with
// ignition.platform.id=). Then an upgrade to 12.3 and a reboot: Ignition
// does not run again (the first boot took ignition.firstboot off), and
// ignition.provisioned still passes, naming the first boot.
func TestIgnitionTestbed(t *testing.T) {
	dir := os.Getenv(ignitionTestbedEnv)
	if dir == "" {
		t.Skipf("%s is not set (scripts/e2e.d/90-vm.sh builds the image and runs this with E2E_VM_IGNITION=1)", ignitionTestbedEnv)
	}
	needQEMU(t)
	name := "testbed-ign"
	art := os.Getenv("ATOMIC_SELFTEST_ARTIFACTS")
	if art == "" {
		art = t.TempDir()
	}
	start := time.Now()
	vm, err := Start(context.Background(), Config{
		Name: name, Image: filepath.Join(dir, "disk.img"), Dir: t.TempDir(),
		ConsoleLog: filepath.Join(art, name+"-console.log"), Accel: os.Getenv("ATOMIC_SELFTEST_QEMU_ACCEL"),
		Provision: ProvisionAuto, Stderr: os.Stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Close() })
	if vm.Provision() != ProvisionIgnition {
		t.Fatalf("auto found %s in the Ignition variant", vm.Provision())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := vm.WaitSSH(ctx); err != nil {
		t.Fatalf("%v\nlast console lines:\n%s", err, strings.Join(vm.Console(40), "\n"))
	}
	fmt.Fprintf(os.Stderr, "phase %-34s %6.0fs (accel %s)\n", "Ignition first boot to sshd", time.Since(start).Seconds(), vm.Accel())
	boot1 := mustSSH(t, vm, "cat", "/proc/sys/kernel/random/boot_id")
	rec := bootRecord(t, vm, boot1)
	fmt.Fprintf(os.Stderr, "phase %-34s %6.0fs\n", "Ignition first boot + self-test", time.Since(start).Seconds())

	// Ignition's own journal of this boot, kept with the artifacts (the
	// entries ignition.provisioned reads come from here).
	if j, err := sshRun(t, vm, "journalctl", "--no-pager", "--output=json", "-b", "SYSLOG_IDENTIFIER=ignition", "+", "_COMM=ignition"); err == nil {
		_ = os.WriteFile(filepath.Join(art, name+"-ignition-journal.json"), []byte(j+"\n"), 0o600)
	}
	// The boot's own run: ignition.provisioned passes on this boot, the
	// cloud-init checks skip naming Ignition.
	first := results(t, rec)
	expectStatus(t, "first boot", first, "ignition.provisioned", record.StatusPass, "on this boot (the first)")
	for id, r := range first {
		if strings.HasPrefix(id, "cloudinit.") {
			expectStatus(t, "first boot", first, id, record.StatusSkip, "provisioned by Ignition (")
		} else if r.Required && r.Status != record.StatusPass && r.Status != record.StatusSkip {
			t.Errorf("first boot: %s is %s: %s", id, r.Status, r.Message)
		}
	}
	// What the driver's config asked, done by Ignition: the host name, the
	// key for core in Ignition's drop-in, the first-boot unit's marker.
	if h := mustSSH(t, vm, "hostname"); h != name {
		t.Errorf("host name %q, want %s", h, name)
	}
	if m := mustSSH(t, vm, "cat", DefaultMarker); !strings.HasPrefix(m, name+"-") {
		t.Errorf("the first-boot unit's marker holds %q", m)
	}
	coreKeys := "/var/home/core/.ssh/authorized_keys.d/ignition"
	if k := mustSSH(t, vm, "stat", "-c", "%U %a", coreKeys); k != "core 600" {
		t.Errorf("%s: %q, want owned by core, mode 600", coreKeys, k)
	}
	if _, err := sshRun(t, vm, "test", "!", "-e", "/usr/bin/cloud-init"); err != nil {
		t.Errorf("cloud-init is in the Ignition variant: %v", err)
	}

	// Faults, each put back before the next.
	const ids = "ignition.provisioned"
	mustSSH(t, vm, "mv", coreKeys, "/root/ignition-keys.moved")
	res := checkRun(t, vm, ids)
	expectStatus(t, "key file removed", res, "ignition.provisioned", record.StatusFail, "Ignition wrote ssh keys for user core to ")
	expectStatus(t, "key file removed", res, "ignition.provisioned", record.StatusFail,
		"/core/.ssh/authorized_keys.d/ignition on the provisioning boot (journal MESSAGE_ID")
	mustSSH(t, vm, "mv", "/root/ignition-keys.moved", coreKeys)

	mustSSH(t, vm, "hostname", "renamed")
	expectStatus(t, "host name changed", checkRun(t, vm, ids), "ignition.provisioned", record.StatusFail,
		`the running host name is "renamed", /etc/hostname says "`+name+`"`)
	mustSSH(t, vm, "hostname", name)

	mustSSH(t, vm, "mv", "/etc/.ignition-result.json", "/root/ignition-result.moved")
	expectStatus(t, "result file missing", checkRun(t, vm, ids), "ignition.provisioned", record.StatusFail,
		"/etc/.ignition-result.json is missing, but ignition.platform.id=qemu is on the kernel command line")
	mustSSH(t, vm, "mv", "/root/ignition-result.moved", "/etc/.ignition-result.json")
	expectStatus(t, "faults put back", checkRun(t, vm, ids), "ignition.provisioned", record.StatusPass, "on this boot (the first)")

	// The first boot disarmed Ignition: its boot entry no longer has
	// ignition.firstboot, and keeps ignition.platform.id=qemu.
	if e := mustSSH(t, vm, "sh", "-c", "cat /boot/loader/entries/*.conf"); strings.Contains(e, "ignition.firstboot") || !strings.Contains(e, "ignition.platform.id=qemu") {
		t.Errorf("the boot entries after the first boot:\n%s", e)
	}

	// An upgrade and its boot.
	mustSSH(t, vm, "ostree", "admin", "upgrade")
	mark := vm.ConsoleMark()
	start = time.Now()
	_, _ = sshRun(t, vm, "systemctl", "reboot")
	waitLogin(t, vm, mark, "the upgrade's boot")
	if _, err := vm.WaitSSH(ctx); err != nil {
		t.Fatal(err)
	}
	boot2 := mustSSH(t, vm, "cat", "/proc/sys/kernel/random/boot_id")
	if boot2 == boot1 {
		t.Fatal("no new boot")
	}
	rec = bootRecord(t, vm, boot2)
	fmt.Fprintf(os.Stderr, "phase %-34s %6.0fs\n", "upgrade boot + self-test", time.Since(start).Seconds())
	second := results(t, rec)
	expectStatus(t, "upgrade boot", second, "ignition.provisioned", record.StatusPass, "on boot "+boot1)
	expectStatus(t, "upgrade boot", second, "cloudinit.sshkey", record.StatusSkip, "provisioned by Ignition (")
	if c := mustSSH(t, vm, "cat", "/proc/cmdline"); strings.Contains(c, "ignition.firstboot") {
		t.Errorf("Ignition was armed again on the upgrade's boot: %s", c)
	}
	if s := mustSSH(t, vm, "ostree", "admin", "status"); !strings.Contains(s, "Version: 12.3") {
		t.Errorf("the upgrade's boot did not boot 12.3:\n%s", s)
	}
	if h := mustSSH(t, vm, "hostname"); h != name {
		t.Errorf("host name after the upgrade %q, want %s", h, name)
	}
}

package journal

import (
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	sdjournal "github.com/atomic-selftest/atomic-selftest/selftest/journal"
	"github.com/atomic-selftest/atomic-selftest/selftest/journal/journaltest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

const (
	bootID  = "3d1c5a0e8a524f7e9a4b2e6c0f1d7b93"
	earlier = "0aa1c5a0e8a524f7e9a4b2e6c0f1d7b9"
)

// kmsg is a kernel entry as journald stores a /dev/kmsg record: the
// kernel's own lines have identifier "kernel"; a line root wrote to
// /dev/kmsg is split at its first word ending in ":".
func kmsg(ident, msg string) map[string]string {
	return map[string]string{"_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": ident, "MESSAGE": msg, "PRIORITY": "4"}
}

// pid1 is the service manager's entry about unit.
func pid1(unit, msg string) map[string]string {
	return map[string]string{"_TRANSPORT": "journal", "_UID": "0", "_PID": "1", "_COMM": "systemd", "UNIT": unit, "MESSAGE": msg, "SYSLOG_IDENTIFIER": "systemd"}
}

// user is what an unprivileged user logs with logger(1): any text, any
// MESSAGE_ID, but its own _UID.
func user(msg string, extra ...string) map[string]string {
	e := map[string]string{"_TRANSPORT": "syslog", "_UID": "1000", "_PID": "4242", "_COMM": "logger", "_SYSTEMD_UNIT": "user@1000.service", "MESSAGE": msg, "SYSLOG_IDENTIFIER": "kernel"}
	for i := 0; i+1 < len(extra); i += 2 {
		e[extra[i]] = extra[i+1]
	}
	return e
}

// journalRC is a run context whose journalctl reads a real journal file
// made of entries (this boot's, and one earlier boot's panic that must not
// count).
func journalRC(t *testing.T, entries ...map[string]string) *selftest.RunContext {
	t.Helper()
	file := journaltest.File(t, bootID, entries...)
	h := selftest.NewHost("/")
	h.Commands = journaltest.Commander{File: file}
	h.BootID = "3d1c5a0e-8a52-4f7e-9a4b-2e6c0f1d7b93"
	return selftest.NewRunContext(h, nil)
}

// The kernel's own warning and the one the VM test writes to /dev/kmsg
// are both caught, with their time and unit; a user's logger line saying
// "Kernel panic" and an earlier boot's real panic are not.
func TestKernel(t *testing.T) {
	old := kmsg("kernel", "Kernel panic - not syncing: an earlier boot")
	old["_BOOT_ID"] = earlier
	rc := journalRC(t,
		old,
		kmsg("kernel", "Linux version 6.1.0"),
		user("Kernel panic - not syncing: forged by a user"),
		user("WARNING: CPU: 0 PID: 1 at forged"),
		kmsg("kernel", "WARNING: CPU: 3 PID: 812 at drivers/gpu/drm/drm_gem.c:1041 drm_gem_object_free+0x1c/0x30"),
		kmsg("WARNING", "CPU: 0 PID: 1 at selftest"),
	)
	res := checktest.ByID(t, rc, "journal.kernel", 0)
	checktest.Expect(t, res, record.StatusFail, "2 in this boot's journal",
		"2023-11-14T22:13:24Z kernel warning (kernel): kernel: WARNING: CPU: 3 PID: 812 at drivers/gpu/drm",
		"kernel warning (kernel): WARNING: CPU: 0 PID: 1 at selftest")
	if len(res.Evidence) != 2 {
		t.Errorf("evidence %+v, want one per hit", res.Evidence)
	}

	// Known noise, allowed by the configuration, passes and is counted.
	rc.Config.Journal.Allow = []string{`at drivers/gpu/drm/`, `PID: 1 at selftest$`}
	checktest.Expect(t, checktest.ByID(t, rc, "journal.kernel", 0), record.StatusPass, "2 allowed by journal.allow")
}

// A core dump from systemd-coredump's service (which logs as its own user)
// and a segfault the manager reports are crashes; the same MESSAGE_ID
// logged by a user is not.
func TestCrashes(t *testing.T) {
	rc := journalRC(t,
		user("Process 1 (systemd) of user 0 dumped core.", "MESSAGE_ID", sdjournal.CoredumpMessageID),
		map[string]string{"_TRANSPORT": "journal", "_UID": "997", "_PID": "900", "_COMM": "systemd-coredum",
			"_SYSTEMD_UNIT": "systemd-coredump@0-899-0.service", "MESSAGE_ID": sdjournal.CoredumpMessageID,
			"COREDUMP_UNIT": "crio.service", "MESSAGE": "Process 880 (crio) of user 0 dumped core."},
		pid1("zincati.service", "zincati.service: Main process exited, code=dumped, status=11/SEGV"),
		kmsg("kernel", "Out of memory: Killed process 771 (java) total-vm:9000kB"),
	)
	checktest.Expect(t, checktest.ByID(t, rc, "journal.crashes", 0), record.StatusFail, "3 in this boot's journal",
		"core dump (crio.service): Process 880 (crio) of user 0 dumped core.",
		"segfault (zincati.service): systemd: zincati.service: Main process exited, code=dumped, status=11/SEGV",
		"oom killer (kernel)")
}

// A boot that reached the emergency shell and had an ordering cycle fails
// journal.boot; the same words from a user do not, and a clean boot passes.
func TestBoot(t *testing.T) {
	rc := journalRC(t,
		user("Starting Emergency Shell..."),
		pid1("emergency.service", "Starting emergency.service - Emergency Shell..."),
		pid1("multi-user.target", "multi-user.target: Found ordering cycle on foo.service/start"),
		kmsg("dracut", "FATAL: Failed to mount block device of live image"),
	)
	checktest.Expect(t, checktest.ByID(t, rc, "journal.boot", 0), record.StatusFail, "3 in this boot's journal",
		"emergency shell (emergency.service)", "systemd ordering cycle (multi-user.target)", "dracut fatal (kernel): dracut: FATAL:")

	clean := journalRC(t, pid1("multi-user.target", "Reached target multi-user.target - Multi-User System."), user("Starting Emergency Shell..."))
	checktest.Expect(t, checktest.ByID(t, clean, "journal.boot", 0), record.StatusPass, "none in 2 entries read")

	// A boot the journal does not hold (a volatile journal after a
	// reboot): the real journalctl says so, and the check skips.
	clean.Host.BootID = earlier
	checktest.Expect(t, checktest.ByID(t, clean, "journal.boot", 0), record.StatusSkip, "this boot is not in the journal")
}

// A soft lockup is a stall, reported by the wanted journal.stalls and not
// by the required journal.kernel (kola only warns on it).
func TestStalls(t *testing.T) {
	rc := journalRC(t,
		kmsg("kernel", "watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [kworker/1:2:88]"),
		kmsg("kernel", "INFO: task jbd2/vda3-8:301 blocked for more than 120 seconds."),
	)
	checktest.Expect(t, checktest.ByID(t, rc, "journal.stalls", 0), record.StatusFail, "2 in this boot's journal",
		"kernel soft lockup (kernel)", "hung task (kernel)")
	checktest.Expect(t, checktest.ByID(t, rc, "journal.kernel", 0), record.StatusPass, "none in")
}

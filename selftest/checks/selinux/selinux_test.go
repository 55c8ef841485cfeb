package selinux

import (
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/journal/journaltest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func TestMode(t *testing.T) {
	const cfg = "etc/selinux/config"
	for _, c := range []struct {
		name   string
		files  map[string]string
		status record.Status
		want   string
	}{
		// SELinux off everywhere (as on the Debian test VM): skipped.
		{"off", map[string]string{"proc/cmdline": "root=/dev/vda3"}, record.StatusSkip, "SELinux is off: the kernel has no /sys/fs/selinux/enforce and there is no /etc/selinux/config"},
		{"disabled", map[string]string{cfg: "SELINUX=disabled\n"}, record.StatusSkip, "disabled in /etc/selinux/config and in the kernel"},
		{"enforcing", map[string]string{cfg: "SELINUX=enforcing\nSELINUXTYPE=targeted\n", "sys/fs/selinux/enforce": "1"}, record.StatusPass, "SELinux runs enforcing as /etc/selinux/config SELINUX=enforcing asks (policy targeted)"},
		// The bad release: configured enforcing, came up permissive.
		{"permissive", map[string]string{cfg: "SELINUX=enforcing\n", "sys/fs/selinux/enforce": "0"}, record.StatusFail, "SELinux runs permissive, but /etc/selinux/config SELINUX=enforcing asks for enforcing"},
		{"kernel off", map[string]string{cfg: "SELINUX=enforcing\n"}, record.StatusFail, "SELinux runs disabled, but /etc/selinux/config SELINUX=enforcing asks for enforcing"},
		// The operator's enforcing=0 on the command line wins.
		{"cmdline", map[string]string{cfg: "SELINUX=enforcing\n", "sys/fs/selinux/enforce": "0", "proc/cmdline": "ro enforcing=0 quiet"}, record.StatusPass, "kernel command line enforcing=0"},
		{"no config", map[string]string{"sys/fs/selinux/enforce": "1"}, record.StatusFail, "SELinux runs enforcing, but /etc/selinux/config is missing"},
		// Debian's kernel mounts selinuxfs and reads permissive with no
		// policy loaded and no SELinux userland (seen on the testbed VM):
		// nothing is set up, so nothing is judged.
		{"permissive, nothing installed", map[string]string{"sys/fs/selinux/enforce": "0", "etc/selinux/semanage.conf": "# libsemanage-common's\n"}, record.StatusSkip, "SELinux is not set up on this host: the kernel reads permissive, and no policy or /etc/selinux/config is installed"},
		// With /etc/selinux present but its config gone, the loss is the
		// release's: still a failure.
		{"permissive, config lost", map[string]string{"sys/fs/selinux/enforce": "0", "etc/selinux/targeted/policy/policy.33": "policy"}, record.StatusFail, "SELinux runs permissive, but /etc/selinux/config is missing"},
		{"bad config", map[string]string{cfg: "SELINUX=strict\n", "sys/fs/selinux/enforce": "1"}, record.StatusError, `/etc/selinux/config: line 1: SELINUX="strict"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			checktest.Expect(t, checktest.ByID(t, liveRC(t, c.files), "selinux.mode", 0), c.status, c.want)
		})
	}
}

// avcLine is a denial recorded on Fedora CoreOS (selinuxfmt's testdata:
// fedora-coreos-tracker#733), as journald keeps the audit record.
const avcLine = `AVC avc:  denied  { search } for  pid=696 comm="qemu-ga" name="containers" dev="sda4" ino=119537792 scontext=system_u:system_r:virt_qemu_ga_t:s0 tcontext=system_u:object_r:container_var_lib_t:s0 tclass=dir permissive=0`

// A denial from the audit socket counts, once even when the kernel also
// printed it; a user's logger line with the same text does not; an
// allowed one passes.
func TestAVC(t *testing.T) {
	file := journaltest.File(t, "3d1c5a0e8a524f7e9a4b2e6c0f1d7b93",
		map[string]string{"_TRANSPORT": "audit", "MESSAGE": avcLine, "SYSLOG_IDENTIFIER": "audit", "_PID": "696"},
		map[string]string{"_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": "kernel", "MESSAGE": `audit: type=1400 audit(1612510000.100:90): avc:  denied  { search } for  pid=696 comm="qemu-ga" name="containers" dev="sda4" ino=119537792 scontext=system_u:system_r:virt_qemu_ga_t:s0 tcontext=system_u:object_r:container_var_lib_t:s0 tclass=dir permissive=0`},
		map[string]string{"_TRANSPORT": "syslog", "_UID": "1000", "SYSLOG_IDENTIFIER": "audit", "MESSAGE": `AVC avc:  denied  { write } for pid=1 comm="forged" scontext=a:b:c tcontext=d:e:f tclass=file permissive=0`},
		map[string]string{"_TRANSPORT": "kernel", "SYSLOG_IDENTIFIER": "kernel", "MESSAGE": "audit: type=1403 audit(1612510000.000:2): auid=4294967295 ses=4294967295 lsm=selinux res=1"},
	)
	rc := liveRC(t, map[string]string{"etc/selinux/config": "SELINUX=enforcing\n", "sys/fs/selinux/enforce": "1"})
	rc.Host.Commands = journaltest.Commander{File: file}
	rc.Host.BootID = "3d1c5a0e8a524f7e9a4b2e6c0f1d7b93"
	res := checktest.ByID(t, rc, "selinux.avc", 0)
	checktest.Expect(t, res, record.StatusFail, "1 AVC denial(s) this boot: ",
		"AVC denial (audit): denied { search } comm=qemu-ga scontext=system_u:system_r:virt_qemu_ga_t:s0 tcontext=system_u:object_r:container_var_lib_t:s0 tclass=dir name=containers")
	if len(res.Evidence) != 1 {
		t.Errorf("evidence %+v, want the one denial", res.Evidence)
	}
	rc.Config.Journal.Allow = []string{`comm="qemu-ga"`}
	checktest.Expect(t, checktest.ByID(t, rc, "selinux.avc", 0), record.StatusPass, "denied nothing this boot (1 allowed")

	off := liveRC(t, nil)
	checktest.Expect(t, checktest.ByID(t, off, "selinux.avc", 0), record.StatusSkip, "SELinux is off in the kernel")
}

func liveRC(t *testing.T, files map[string]string) *selftest.RunContext {
	rc, _ := checktest.LiveTree(t, files)
	return rc
}

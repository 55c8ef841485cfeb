package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func TestWatchdog(t *testing.T) {
	for _, c := range []struct {
		name   string
		files  map[string]string
		status record.Status
		want   string
	}{
		{"none", map[string]string{"sys/class/.keep": ""}, record.StatusSkip, "no watchdog device on this host"},
		{"no bootstatus", map[string]string{"sys/class/watchdog/watchdog0/identity": "iTCO_wdt\n"}, record.StatusSkip, "no watchdog of 1 reports its boot status"},
		// WDIOF_KEEPALIVEPING (0x8000) alone is not a reset.
		{"clean", map[string]string{"sys/class/watchdog/watchdog0/bootstatus": "32768\n"}, record.StatusPass, "no watchdog reset the machine into this boot (1 watchdog(s)"},
		// WDIOF_CARDRESET (0x20), as i6300esb and iTCO_wdt report it.
		{"reset", map[string]string{"sys/class/watchdog/watchdog0/bootstatus": "0\n", "sys/class/watchdog/watchdog1/bootstatus": "32\n"}, record.StatusFail, "watchdog1 reset the machine into this boot (/sys/class/watchdog/watchdog1/bootstatus = 0x20)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc, _ := checktest.LiveTree(t, c.files)
			checktest.Expect(t, checktest.ByID(t, rc, "host.watchdog", 0), c.status, c.want)
		})
	}
}

func TestMachineID(t *testing.T) {
	for _, c := range []struct {
		name   string
		files  map[string]string
		status record.Status
		want   string
	}{
		{"valid", map[string]string{"etc/machine-id": "3d1219c7c4c5404aaa1f6d2a48adfda4\n"}, record.StatusPass, "is a valid machine id"},
		{"first boot", map[string]string{"etc/machine-id": "uninitialized\n", "run/systemd/first-boot": ""}, record.StatusPass, "while the first boot runs"},
		{"stuck first boot", map[string]string{"etc/machine-id": "uninitialized\n"}, record.StatusFail, "after the first boot (no /run/systemd/first-boot)"},
		{"zeros", map[string]string{"etc/machine-id": "00000000000000000000000000000000\n"}, record.StatusFail, "machine-id is all zeros"},
		{"missing", map[string]string{"etc/hostname": "h\n"}, record.StatusFail, "/etc/machine-id cannot be read"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc, _ := checktest.LiveTree(t, c.files)
			checktest.Expect(t, checktest.ByID(t, rc, "host.machineid", 0), c.status, c.want)
		})
	}
}

// A real rpm database: one package passes; freshly initialised and empty
// fails; garbled, rpm's own error fails it; none skips.
func TestRPMDB(t *testing.T) {
	testutil.NeedCommand(t, "rpm", "rpm")
	rc, root := checktest.LiveTree(t, map[string]string{"etc/hostname": "h\n"})
	checktest.Expect(t, checktest.ByID(t, rc, "host.rpmdb", 0), record.StatusSkip, "no rpm database on this host")

	db := filepath.Join(root, "usr/share/rpm")
	if out, err := exec.Command("rpm", "--initdb", "--dbpath", db).CombinedOutput(); err != nil {
		t.Fatalf("rpm --initdb: %v %s", err, out)
	}
	checktest.Expect(t, checktest.ByID(t, rc, "host.rpmdb", 0), record.StatusFail, "the rpm database /usr/share/rpm/rpmdb.sqlite holds no package")

	testutil.InstallRPM(t, db, "atomic-selftest-probe")
	checktest.Expect(t, checktest.ByID(t, rc, "host.rpmdb", 0), record.StatusPass, "rpm reads the database /usr/share/rpm/rpmdb.sqlite: 1 package(s)")

	// Offline too: against an image's tree (run --sysroot).
	off := selftest.NewRunContext(selftest.NewHost(root), nil)
	checktest.Expect(t, checktest.ByID(t, off, "host.rpmdb", 0), record.StatusPass, "1 package(s)")

	if err := os.WriteFile(filepath.Join(db, "rpmdb.sqlite"), []byte("not a database, garbled by a bad compose"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(db, "rpmdb.sqlite-shm"))
	os.Remove(filepath.Join(db, "rpmdb.sqlite-wal"))
	checktest.Expect(t, checktest.ByID(t, rc, "host.rpmdb", 0), record.StatusFail, "rpm cannot read the database /usr/share/rpm/rpmdb.sqlite")
}

// sshd enabled with a port that this machine's recorded TCP table
// (selftest/sysfmt/testdata, 0.0.0.0:2024 listening) has a listener on
// passes; on a port nobody listens on fails; not enabled skips.
func TestSSHD(t *testing.T) {
	tcp, err := os.ReadFile("../../sysfmt/testdata/tcp")
	if err != nil {
		t.Fatal(err)
	}
	tcp6, err := os.ReadFile("../../sysfmt/testdata/tcp6")
	if err != nil {
		t.Fatal(err)
	}
	rc, root := checktest.LiveTree(t, map[string]string{"proc/net/tcp": string(tcp), "proc/net/tcp6": string(tcp6),
		"etc/ssh/sshd_config":                "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n",
		"etc/ssh/sshd_config.d/50-port.conf": "Port 2024\n"})
	sd := checktest.NewSystemd(map[string]selftest.UnitState{
		"sshd.service": {LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled"},
	})
	rc.Host.NewSystemd = sd.Open
	checktest.Expect(t, checktest.ByID(t, rc, "host.sshd", 0), record.StatusPass, "sshd.service is enabled and listens: 0.0.0.0 port 2024")

	// The IPv6 table alone, [::]:2223.
	testutil.WriteFile(t, root, "etc/ssh/sshd_config.d/50-port.conf", "Port 2223\n")
	checktest.Expect(t, checktest.ByID(t, rc, "host.sshd", 0), record.StatusPass, ":: port 2223")

	testutil.WriteFile(t, root, "etc/ssh/sshd_config.d/50-port.conf", "# default port\n")
	checktest.Expect(t, checktest.ByID(t, rc, "host.sshd", 0), record.StatusFail, "sshd.service is enabled, but nothing listens on port 22")

	sd.Set("sshd.service", selftest.UnitState{LoadState: "loaded", ActiveState: "inactive", UnitFileState: "disabled"})
	checktest.Expect(t, checktest.ByID(t, rc, "host.sshd", 0), record.StatusSkip, "sshd is not enabled")
}

package ignition

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ignitionfmt"
	"github.com/atomic-selftest/atomic-selftest/selftest/journal/journaltest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

const thisBoot = "6b0f3c2a-1d4e-4f5a-8b9c-0d1e2f3a4b5c"

func write(t *testing.T, root, rel, data string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func pubKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " " + comment + "\n"
}

// fcosRoot lays out what Ignition and Afterburn leave on a Fedora CoreOS
// host: the result file (mode 0600, as createResultFile writes it), the
// core user in /etc/passwd, its key drop-ins, /etc/hostname and the
// running host name.
func fcosRoot(t *testing.T) (string, *selftest.RunContext) {
	t.Helper()
	root := t.TempDir()
	res, err := os.ReadFile(filepath.Join("testdata", "ignition-result.json"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, root, "etc/.ignition-result.json", string(res), 0o600)
	write(t, root, "etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\ncore:x:%d:%d:CoreOS Admin:/var/home/core:/bin/bash\n", os.Getuid(), os.Getgid()), 0o644)
	write(t, root, "var/home/core/.ssh/authorized_keys.d/ignition", pubKey(t, "from ignition"), 0o600)
	write(t, root, "var/home/core/.ssh/authorized_keys.d/afterburn", pubKey(t, "from afterburn")+pubKey(t, "second"), 0o600)
	write(t, root, "etc/hostname", "fcos-test\n", 0o644)
	write(t, root, "proc/sys/kernel/hostname", "fcos-test\n", 0o644)
	write(t, root, "proc/cmdline", "root=UUID=x ignition.platform.id=qemu\n", 0o644)
	h := selftest.NewRunContext(selftest.NewHost(root), nil)
	h.Offline = false
	h.BootID = thisBoot
	h.Commands = &journalStandIn{}
	return root, h
}

// journalStandIn answers journalctl's query for Ignition's key entries of
// the provisioning boot with out, one JSON object per line as
// `journalctl --output=json` prints them; with out empty, journalctl is
// not installed. The entries carry the fields Ignition's AuthorizeSSHKeys
// sends (internal/exec/util/passwd.go in coreos/ignition).
type journalStandIn struct{ out string }

func (j *journalStandIn) Command(_ context.Context, _ time.Duration, argv ...string) ([]byte, []byte, error) {
	want := []string{"journalctl", "--no-pager", "--output=json", "--boot=3d1c5a0e8a524f7e9a4b2e6c0f1d7b93", "MESSAGE_ID=225067b87bbd4a0cb6ab151f82fa364b",
		"_UID=0", "_TRANSPORT=journal", "_SYSTEMD_UNIT=ignition-files.service"}
	if j.out == "" || !slices.Equal(argv, want) {
		return nil, nil, fmt.Errorf("running %s: %w", argv[0], exec.ErrNotFound)
	}
	return []byte(j.out), nil, nil
}

func keyEntry(user, path string) string {
	return `{"__CURSOR":"s=1;i=2","_BOOT_ID":"3d1c5a0e8a524f7e9a4b2e6c0f1d7b93","MESSAGE":"wrote ssh authorized keys file for user: ` + user +
		`","MESSAGE_ID":"225067b87bbd4a0cb6ab151f82fa364b","PRIORITY":"6","IGNITION_USER_NAME":"` + user + `","IGNITION_PATH":"` + path +
		`","_UID":"0","_TRANSPORT":"journal","_SYSTEMD_UNIT":"ignition-files.service","_COMM":"ignition"}` + "\n"
}

func TestProvisionedJournal(t *testing.T) {
	_, h := fcosRoot(t)
	h.Commands = &journalStandIn{out: keyEntry("core", "/sysroot/var/home/core/.ssh/authorized_keys.d/ignition")}
	r := run(t, h)
	checktest.Expect(t, r, record.StatusPass, "3 ssh key(s) in 2 file(s)")
	found := false
	for _, e := range r.Evidence {
		if e.Name == "keys asked (journal of the provisioning boot)" && e.Seen == "core /var/home/core/.ssh/authorized_keys.d/ignition" {
			found = true
		}
	}
	if !found {
		t.Errorf("no journal evidence in %+v", r.Evidence)
	}

	h.Commands = &journalStandIn{out: keyEntry("core", "/sysroot/var/home/core/.ssh/authorized_keys.d/ignition") + keyEntry("admin", "/sysroot/var/home/admin/.ssh/authorized_keys.d/ignition")}
	checktest.Expect(t, run(t, h), record.StatusFail, "Ignition wrote ssh keys for user admin to /var/home/admin/.ssh/authorized_keys.d/ignition on the provisioning boot (journal MESSAGE_ID 225067b87bbd4a0cb6ab151f82fa364b), but it is gone")

	h.Commands = &journalStandIn{out: "not json\n"}
	checktest.Expect(t, run(t, h), record.StatusFail, "reading Ignition's journal entries: journalctl printed a line that is not JSON")
}

func run(t *testing.T, h *selftest.RunContext) record.Result {
	t.Helper()
	return checktest.One(t, h, checktest.Registered(t, "ignition.provisioned"))
}

func TestProvisioned(t *testing.T) {
	_, h := fcosRoot(t)
	r := run(t, h)
	checktest.Expect(t, r, record.StatusPass, "Ignition provisioned 2026-11-30T08:15:42Z on boot 3d1c5a0e-8a52-4f7e-9a4b-2e6c0f1d7b93; 3 ssh key(s) in 2 file(s)")

	// The first boot: the result names this boot.
	root, h := fcosRoot(t)
	write(t, root, "etc/.ignition-result.json", `{"provisioningBootID":"`+thisBoot+`","provisioningDate":"2026-12-07T02:00:00Z","userConfigProvided":true}`, 0o600)
	checktest.Expect(t, run(t, h), record.StatusPass, "on this boot (the first)")
	// The run record's boot id is the journal's form, without dashes.
	h.BootID = strings.ReplaceAll(thisBoot, "-", "")
	checktest.Expect(t, run(t, h), record.StatusPass, "on this boot (the first)")
}

func TestProvisionedBroken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, root string)
		want   string
	}{
		{"result missing", func(t *testing.T, root string) { os.Remove(filepath.Join(root, "etc/.ignition-result.json")) },
			"/etc/.ignition-result.json is missing, but ignition.platform.id=qemu is on the kernel command line"},
		{"result garbled", func(t *testing.T, root string) {
			write(t, root, "etc/.ignition-result.json", `{"provisioningBootID":"yesterday","provisioningDate":"2026-11-30T08:15:42Z","userConfigProvided":true}`, 0o600)
		}, `/etc/.ignition-result.json: provisioningBootID "yesterday" is not a boot id`},
		{"result without a field", func(t *testing.T, root string) {
			write(t, root, "etc/.ignition-result.json", `{"provisioningBootID":"3d1c5a0e-8a52-4f7e-9a4b-2e6c0f1d7b93","provisioningDate":"2026-11-30T08:15:42Z"}`, 0o600)
		}, "/etc/.ignition-result.json has no userConfigProvided"},
		{"key file writable by others", func(t *testing.T, root string) {
			os.Chmod(filepath.Join(root, "var/home/core/.ssh/authorized_keys.d/ignition"), 0o666)
		}, "/var/home/core/.ssh/authorized_keys.d/ignition has mode 0666: group or others can write it, and sshd ignores it"},
		{"key file of another user", func(t *testing.T, root string) {
			write(t, root, "etc/passwd", "core:x:4242:4242::/var/home/core:/bin/bash\n", 0o644)
		}, fmt.Sprintf("/var/home/core/.ssh/authorized_keys.d/afterburn is owned by uid %d, not by its user core (uid 4242)", os.Getuid())},
		{"garbled key", func(t *testing.T, root string) {
			write(t, root, "var/home/core/.ssh/authorized_keys.d/ignition", "ssh-ed25519 not-base64!\n", 0o600)
		}, "/var/home/core/.ssh/authorized_keys.d/ignition line 1 is not an ssh public key"},
		{"empty key file", func(t *testing.T, root string) {
			write(t, root, "var/home/core/.ssh/authorized_keys.d/afterburn", "# nothing\n", 0o600)
		}, "/var/home/core/.ssh/authorized_keys.d/afterburn holds no key"},
		{"host name not applied", func(t *testing.T, root string) {
			write(t, root, "proc/sys/kernel/hostname", "localhost\n", 0o644)
		}, `the running host name is "localhost", /etc/hostname says "fcos-test"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, h := fcosRoot(t)
			tc.break_(t, root)
			checktest.Expect(t, run(t, h), record.StatusFail, tc.want)
		})
	}
}

func TestApplies(t *testing.T) {
	ctx := context.Background()
	root, h := fcosRoot(t)
	if got := applies(ctx, h); got != "" {
		t.Fatalf("applies on an Ignition host: %q", got)
	}
	os.Remove(filepath.Join(root, "etc/.ignition-result.json"))
	if got := applies(ctx, h); got != "" {
		t.Fatalf("applies with ignition.platform.id= alone: %q", got)
	}
	write(t, root, "proc/cmdline", "root=/dev/vda1\n", 0o644)
	want := "not provisioned by Ignition (no /etc/.ignition-result.json, no ignition.firstboot or ignition.platform.id= on the kernel command line)"
	if got := applies(ctx, h); got != want {
		t.Fatalf("applies = %q, want %q", got, want)
	}
	os.MkdirAll(filepath.Join(root, "var/lib/cloud"), 0o755)
	want = "provisioned by cloud-init (/var/lib/cloud exists), not Ignition: the cloudinit.* checks judge it"
	if got := applies(ctx, h); got != want {
		t.Fatalf("applies = %q, want %q", got, want)
	}
}

// TestProvisionedJournalForged (issue 24 item 2): any user can log an
// entry with Ignition's MESSAGE_ID (`logger --journald`); one naming a
// user whose keys are not there made ignition.provisioned, a required
// check, fail on every later run. In a real journal (systemd-journal-remote,
// read by the real journalctl) with Ignition's entry and a forgery by uid
// 1000, only Ignition's counts: _UID 0, _TRANSPORT journal (go-systemd's
// journal.Send, which AuthorizeSSHKeys uses) and _SYSTEMD_UNIT
// ignition-files.service (dracut/30ignition/ignition-files.service runs
// the files stage, which writes the keys).
func TestProvisionedJournalForged(t *testing.T) {
	_, h := fcosRoot(t)
	ignition := map[string]string{"_UID": "0", "_TRANSPORT": "journal", "_SYSTEMD_UNIT": "ignition-files.service", "_COMM": "ignition"}
	keys := func(user string, sender map[string]string) map[string]string {
		e := map[string]string{"MESSAGE": "wrote ssh authorized keys file for user: " + user, "MESSAGE_ID": ignitionfmt.SSHKeysMessageID,
			"IGNITION_USER_NAME": user, "IGNITION_PATH": "/sysroot/var/home/" + user + "/.ssh/authorized_keys.d/ignition"}
		for k, v := range sender {
			e[k] = v
		}
		return e
	}
	forger := map[string]string{"_UID": "1000", "_TRANSPORT": "journal", "_SYSTEMD_UNIT": "user@1000.service", "_COMM": "logger"}
	file := journaltest.File(t, "3d1c5a0e8a524f7e9a4b2e6c0f1d7b93", keys("core", ignition), keys("admin", forger))
	h.Commands = journaltest.Commander{File: file}
	checktest.Expect(t, run(t, h), record.StatusPass, "3 ssh key(s) in 2 file(s)")

	// Ignition's own entry for a user whose keys are gone still fails.
	file = journaltest.File(t, "3d1c5a0e8a524f7e9a4b2e6c0f1d7b93", keys("core", ignition), keys("admin", ignition))
	h.Commands = journaltest.Commander{File: file}
	checktest.Expect(t, run(t, h), record.StatusFail, "Ignition wrote ssh keys for user admin")
}

// Ignition's fetched-config entries (logStructuredJournalEntry in
// internal/exec/engine.go, coreos/ignition), in a real journal read by the
// real journalctl: they must agree with the result file's
// userConfigProvided, and only the fetch stages' own entries count.
func TestProvisionedConfigFetched(t *testing.T) {
	fetch := func(typ, src string, sender map[string]string) map[string]string {
		e := map[string]string{"MESSAGE": "fetched " + typ + " config from \"" + src + "\"", "MESSAGE_ID": ignitionfmt.FetchedConfigMessageID,
			"IGNITION_CONFIG_TYPE": typ, "IGNITION_CONFIG_SRC": src, "IGNITION_CONFIG_REFERENCED": "false"}
		for k, v := range sender {
			e[k] = v
		}
		return e
	}
	offline := map[string]string{"_UID": "0", "_TRANSPORT": "journal", "_SYSTEMD_UNIT": "ignition-fetch-offline.service", "_COMM": "ignition"}
	forger := map[string]string{"_UID": "1000", "_TRANSPORT": "journal", "_SYSTEMD_UNIT": "user@1000.service", "_COMM": "logger"}
	const boot = "3d1c5a0e8a524f7e9a4b2e6c0f1d7b93"

	_, h := fcosRoot(t)
	h.Commands = journaltest.Commander{File: journaltest.File(t, boot, fetch("base", "system", offline), fetch("user", "qemu", offline))}
	r := run(t, h)
	checktest.Expect(t, r, record.StatusPass, "3 ssh key(s)")
	found := false
	for _, e := range r.Evidence {
		found = found || e.Name == "configs fetched (journal of the provisioning boot)" && e.Seen == "base config from system, user config from qemu"
	}
	if !found {
		t.Errorf("no fetch evidence in %+v", r.Evidence)
	}

	// The result file says a user config was given; the journal says only
	// the base config was fetched (a forged user entry does not count).
	h.Commands = journaltest.Commander{File: journaltest.File(t, boot, fetch("base", "system", offline), fetch("user", "qemu", forger))}
	checktest.Expect(t, run(t, h), record.StatusFail,
		"/etc/.ignition-result.json says userConfigProvided true, but Ignition's journal of the provisioning boot (MESSAGE_ID 57124006b5c94805b77ce473e92a8aeb) says it fetched base config from system")

	// No fetch entries at all (an older Ignition, a journal rotated away):
	// evidence, not a fault.
	h.Commands = journaltest.Commander{File: journaltest.File(t, boot, fetch("user", "qemu", forger))}
	checktest.Expect(t, run(t, h), record.StatusPass, "3 ssh key(s)")
}

// What Ignition's files stage did, by its op log of the provisioning boot
// (the lines Ignition 2.14 printed here, testdata/ignition-files-stage.txt,
// in a real journal read by the real journalctl), must still be so: the
// users in /etc/passwd, the files there, the unit enabled (real systemctl
// --root reading the unit files).
func TestProvisionedFilesOps(t *testing.T) {
	lines, err := os.ReadFile(filepath.Join("testdata", "ignition-files-stage.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []map[string]string
	for _, l := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		entries = append(entries, map[string]string{"MESSAGE": l, "SYSLOG_IDENTIFIER": "ignition", "_UID": "0", "_TRANSPORT": "stdout",
			"_SYSTEMD_UNIT": "ignition-files.service", "_COMM": "ignition"})
	}
	file := journaltest.File(t, "3d1c5a0e8a524f7e9a4b2e6c0f1d7b93", entries...)
	const unit = "atomic-selftest-firstboot.service"
	setup := func(t *testing.T) (string, *selftest.RunContext) {
		root, h := fcosRoot(t)
		h.Commands = journaltest.Commander{File: file}
		write(t, root, "etc/ssh/ssh_host_ed25519_key", "key\n", 0o600)
		write(t, root, "etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 AAAA\n", 0o644)
		write(t, root, "etc/systemd/system/"+unit, "[Service]\nType=oneshot\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n", 0o644)
		os.MkdirAll(filepath.Join(root, "etc/systemd/system/multi-user.target.wants"), 0o755)
		if err := os.Symlink("/etc/systemd/system/"+unit, filepath.Join(root, "etc/systemd/system/multi-user.target.wants", unit)); err != nil {
			t.Fatal(err)
		}
		return root, h
	}
	testutil.NeedCommand(t, "systemd", "systemctl")
	_, h := setup(t)
	r := run(t, h)
	checktest.Expect(t, r, record.StatusPass, "3 ssh key(s)")
	found := false
	for _, e := range r.Evidence {
		found = found || strings.HasPrefix(e.Name, "done by Ignition's files stage") && strings.Contains(e.Seen, "user core, file /etc/hostname") && strings.Contains(e.Seen, "unit "+unit)
	}
	if !found {
		t.Errorf("no files-stage evidence in %+v", r.Evidence)
	}
	for _, tc := range []struct {
		name   string
		break_ func(root string)
		want   string
	}{
		{"file gone", func(root string) { os.Remove(filepath.Join(root, "etc/ssh/ssh_host_ed25519_key.pub")) },
			"Ignition wrote /etc/ssh/ssh_host_ed25519_key.pub on the provisioning boot, but it is gone"},
		{"unit disabled", func(root string) { os.Remove(filepath.Join(root, "etc/systemd/system/multi-user.target.wants", unit)) },
			`Ignition enabled ` + unit + ` on the provisioning boot, but systemctl is-enabled says "disabled"`},
		{"user gone", func(root string) {
			write(t, root, "etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\nadmin:x:%d:%d::/var/home/core:/bin/bash\n", os.Getuid(), os.Getgid()), 0o644)
		}, "Ignition created or modified user core on the provisioning boot, but /etc/passwd has no such user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, h := setup(t)
			tc.break_(root)
			checktest.Expect(t, run(t, h), record.StatusFail, tc.want)
		})
	}
}

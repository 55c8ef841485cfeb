package ignition

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/provisioner"
	"github.com/atomic-selftest/atomic-selftest/selftest/ignitionfmt"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "ignition.provisioned",
		Criterion:   "C7",
		Required:    true,
		Description: "Ignition finished provisioning (/etc/.ignition-result.json well-formed, on an earlier or this boot), the ssh keys Ignition and Afterburn wrote are valid and owned by their user, and the host name is /etc/hostname's",
		Timeout:     30 * time.Second,
		Applies:     applies,
		Run:         checkProvisioned,
	})
}

// applies skips where Ignition did not provision the host, naming
// cloud-init where cloud-init did.
func applies(_ context.Context, h *selftest.RunContext) string {
	if provisioner.Ignition(h.Host) != "" {
		return ""
	}
	if how := provisioner.CloudInit(h.Host); how != "" {
		return "provisioned by cloud-init (" + how + "), not Ignition: the cloudinit.* checks judge it"
	}
	return "not provisioned by Ignition (no " + provisioner.IgnitionResult + ", no ignition.firstboot or ignition.platform.id= on the kernel command line)"
}

// keyFiles are the drop-ins of ssh-key-dir (~/.ssh/authorized_keys.d/,
// read by sshd through Fedora CoreOS's AuthorizedKeysCommand) that
// Ignition (internal/exec/util/passwd.go, "ignition") and Afterburn
// ("afterburn") write.
var keyFiles = []string{"ignition", "afterburn"}

func checkProvisioned(ctx context.Context, t *selftest.T) {
	h := t.Host
	var problems []string
	data, err := h.ReadFile(provisioner.IgnitionResult, rootfs.State)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fail("%s is missing, but %s: Ignition did not finish, or its result was removed", provisioner.IgnitionResult, provisioner.Ignition(h))
		return
	}
	if err != nil {
		t.Fail("reading %s: %v", provisioner.IgnitionResult, err)
		return
	}
	res, err := ignitionfmt.ParseResult(provisioner.IgnitionResult, data)
	if err != nil {
		t.Fail("%v", err)
		return
	}
	t.Detail("ignition_result", res)
	when := "provisioned " + res.ProvisioningDate.UTC().Format(time.RFC3339)
	switch {
	case h.BootID == "":
	case sameBoot(res.ProvisioningBootID, h.BootID):
		when += " on this boot (the first)"
	default:
		when += " on boot " + res.ProvisioningBootID
	}
	t.Evidence("provisioning", "", when)
	if h.BootID != "" && sameBoot(res.ProvisioningBootID, h.BootID) {
		// Ignition runs on the first boot only: provisioned now means no
		// second Ignition run; nothing more to compare.
	} else if !t.Host.Offline && res.ProvisioningDate.After(time.Now().Add(time.Hour)) {
		problems = append(problems, fmt.Sprintf("%s: provisioningDate %s is in the future", provisioner.IgnitionResult, res.ProvisioningDate.Format(time.RFC3339)))
	}
	t.Evidence("user config", "", map[bool]string{true: "provided", false: "none (Ignition applied the image's base config only)"}[res.UserConfigProvided])
	if len(res.PreviousReport) > 0 && string(res.PreviousReport) != "null" {
		t.Evidence("previous report", "", "present (Ignition ran before on this disk)")
	}

	users, err := passwdUsers(h)
	if err != nil {
		problems = append(problems, err.Error())
	}
	nkeys, files := 0, 0
	for _, u := range users {
		for _, kf := range keyFiles {
			p := path.Join(u.home, ".ssh", "authorized_keys.d", kf)
			n, err := checkKeyFile(h, p, u)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			files++
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			nkeys += n
			t.Evidence("ssh keys "+p, "valid, owned by "+u.name+", not group/other writable", fmt.Sprintf("%d key(s)", n))
		}
	}
	if files == 0 {
		t.Evidence("ssh keys", "", "none written by Ignition or Afterburn")
	}
	// What the config asked, as far as the host still knows: Ignition's
	// journal entries of the provisioning boot name each key file it
	// wrote. Each must still be there.
	if !h.Offline {
		writes, err := journalKeyWrites(ctx, h, res.ProvisioningBootID)
		switch {
		case errors.Is(err, errNoJournal):
			t.Evidence("keys asked (journal of the provisioning boot)", "", err.Error())
		case err != nil:
			problems = append(problems, fmt.Sprintf("reading Ignition's journal entries: %v", err))
		default:
			var asked []string
			for _, w := range writes {
				asked = append(asked, w.User+" "+w.Path)
				if _, err := h.Stat(w.Path); err != nil {
					problems = append(problems, fmt.Sprintf("Ignition wrote ssh keys for user %s to %s on the provisioning boot (journal MESSAGE_ID %s), but it is gone: %v", w.User, w.Path, ignitionfmt.SSHKeysMessageID, err))
				}
			}
			if len(asked) == 0 {
				asked = []string{"none"}
			}
			t.Evidence("keys asked (journal of the provisioning boot)", "", strings.Join(asked, ", "))
		}
	}

	// Which configs Ignition fetched: the result file's userConfigProvided
	// and Ignition's fetched-config entries must agree. What its files
	// stage did (users, files, enabled units) must still be so.
	if !h.Offline {
		if msg := checkFetches(ctx, t, res); msg != "" {
			problems = append(problems, msg)
		}
		problems = append(problems, checkFilesOps(ctx, t, res, users)...)
	}

	if !h.Offline {
		if msg := checkHostname(t); msg != "" {
			problems = append(problems, msg)
		}
	}
	t.Conclude(problems, "Ignition %s; %d ssh key(s) in %d file(s)", when, nkeys, files)
}

// sameBoot compares boot ids in either form: Ignition's result file has
// the kernel's dashed one (/proc/sys/kernel/random/boot_id), the run
// record the journal's 32 hex digits (seen on the testbed VM: the first
// boot was never named as the provisioning one).
func sameBoot(a, b string) bool {
	return a != "" && strings.ReplaceAll(a, "-", "") == strings.ReplaceAll(b, "-", "")
}

// checkHostname compares the running host name with /etc/hostname, the
// file Ignition writes for a config's storage.files entry and Afterburn
// on platforms that give one; with no /etc/hostname there is nothing to
// compare.
func checkHostname(t *selftest.T) string {
	etc, err := t.Host.ReadFile("/etc/hostname", rootfs.Config)
	if errors.Is(err, fs.ErrNotExist) {
		t.Evidence("/etc/hostname", "", "absent (no host name was configured)")
		return ""
	}
	if err != nil {
		return fmt.Sprintf("reading /etc/hostname: %v", err)
	}
	run, err := t.Host.ReadFile("/proc/sys/kernel/hostname", rootfs.Kernel)
	if err != nil {
		return fmt.Sprintf("reading the running host name: %v", err)
	}
	want, seen := firstLine(etc), strings.TrimSpace(string(run))
	t.Evidence("host name", want+" (/etc/hostname)", seen)
	if want != "" && want != seen {
		return fmt.Sprintf("the running host name is %q, /etc/hostname says %q", seen, want)
	}
	return ""
}

func firstLine(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

type user struct {
	name string
	uid  uint32
	home string
}

// passwdUsers lists the users with a home directory in /etc/passwd and,
// where the host uses nss-altfiles, /usr/lib/passwd (Fedora CoreOS's
// core user is in /etc/passwd, added by Ignition).
func passwdUsers(h *selftest.Host) ([]user, error) {
	seen := map[string]bool{}
	var out []user
	for _, f := range []string{"/etc/passwd", "/usr/lib/passwd"} {
		b, err := h.ReadFile(f, rootfs.Config)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("reading %s: %w", f, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			fl := strings.Split(sc.Text(), ":")
			if len(fl) < 7 || seen[fl[0]] || !strings.HasPrefix(fl[5], "/") || fl[5] == "/" {
				continue
			}
			uid, err := strconv.ParseUint(fl[2], 10, 32)
			if err != nil {
				continue
			}
			seen[fl[0]] = true
			out = append(out, user{name: fl[0], uid: uint32(uid), home: fl[5]})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// checkKeyFile reads one drop-in and returns how many keys it holds. sshd
// ignores a key file its user does not own or others can write
// (StrictModes), and an empty or garbled one installs nothing.
func checkKeyFile(h *selftest.Host, p string, u user) (int, error) {
	fi, err := h.Stat(p)
	if err != nil {
		return 0, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != u.uid {
		return 0, fmt.Errorf("%s is owned by uid %d, not by its user %s (uid %d)", p, st.Uid, u.name, u.uid)
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return 0, fmt.Errorf("%s has mode %04o: group or others can write it, and sshd ignores it", p, m)
	}
	b, err := h.ReadFile(p, rootfs.State)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", p, err)
	}
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil {
			return n, fmt.Errorf("%s line %d is not an ssh public key: %v", p, i+1, err)
		}
		n++
	}
	if n == 0 {
		return 0, fmt.Errorf("%s holds no key", p)
	}
	return n, nil
}

// checkFetches reads Ignition's fetched-config entries of the
// provisioning boot. A journal without them (a volatile journal, one
// rotated away, an Ignition older than 2.9) is evidence, not a fault; one
// that names the configs must agree with the result file about a user
// config.
func checkFetches(ctx context.Context, t *selftest.T, res *ignitionfmt.Result) string {
	const name = "configs fetched (journal of the provisioning boot)"
	argv := append([]string{"journalctl", "--no-pager", "--output=json",
		"--boot=" + strings.ReplaceAll(res.ProvisioningBootID, "-", ""), "MESSAGE_ID=" + ignitionfmt.FetchedConfigMessageID}, ignitionfmt.FetchSource.Matches()...)
	out, err := journalRun(ctx, t.Host, argv)
	if errors.Is(err, errNoJournal) {
		t.Evidence(name, "", err.Error())
		return ""
	}
	if err != nil {
		return fmt.Sprintf("reading Ignition's journal entries: %v", err)
	}
	fetches, err := ignitionfmt.ParseConfigFetches(out)
	if err != nil {
		return fmt.Sprintf("reading Ignition's journal entries: %v", err)
	}
	if len(fetches) == 0 {
		t.Evidence(name, "", "none logged")
		return ""
	}
	var seen []string
	user := false
	for _, f := range fetches {
		seen = append(seen, f.String())
		user = user || f.Type == "user"
	}
	t.Evidence(name, "", strings.Join(seen, ", "))
	if user != res.UserConfigProvided {
		return fmt.Sprintf("%s says userConfigProvided %v, but Ignition's journal of the provisioning boot (MESSAGE_ID %s) says it fetched %s",
			provisioner.IgnitionResult, res.UserConfigProvided, ignitionfmt.FetchedConfigMessageID, strings.Join(seen, ", "))
	}
	return ""
}

// checkFilesOps reads the files stage's op log of the provisioning boot
// (kola's tests/ignition passwd.go, systemd.go and units.go assert the
// same on a fresh host): each user Ignition created or modified is in the
// passwd database, each file it wrote is still there, each unit it
// enabled is enabled. A journal without the log is evidence, not a fault.
func checkFilesOps(ctx context.Context, t *selftest.T, res *ignitionfmt.Result, users []user) []string {
	const name = "done by Ignition's files stage (journal of the provisioning boot)"
	argv := append([]string{"journalctl", "--no-pager", "--output=json",
		"--boot=" + strings.ReplaceAll(res.ProvisioningBootID, "-", "")}, ignitionfmt.FilesSource.Matches()...)
	out, err := journalRun(ctx, t.Host, argv)
	if errors.Is(err, errNoJournal) {
		t.Evidence(name, "", err.Error())
		return nil
	}
	if err != nil {
		return []string{fmt.Sprintf("reading Ignition's journal entries: %v", err)}
	}
	ops, err := ignitionfmt.ParseFilesOps(out)
	if err != nil {
		return []string{fmt.Sprintf("reading Ignition's journal entries: %v", err)}
	}
	if len(ops) == 0 {
		t.Evidence(name, "", "none logged")
		return nil
	}
	known := map[string]bool{}
	for _, u := range users {
		known[u.name] = true
	}
	var problems, seen []string
	for _, op := range ops {
		seen = append(seen, op.Kind+" "+op.Name)
		switch op.Kind {
		case ignitionfmt.OpUser:
			if !known[op.Name] {
				problems = append(problems, fmt.Sprintf("Ignition created or modified user %s on the provisioning boot, but /etc/passwd has no such user with a home directory", op.Name))
			}
		case ignitionfmt.OpFile:
			if _, err := t.Host.Lstat(op.Name); err != nil {
				problems = append(problems, fmt.Sprintf("Ignition wrote %s on the provisioning boot, but it is gone: %v", op.Name, err))
			}
		case ignitionfmt.OpUnit:
			if msg := unitEnabled(ctx, t.Host, op.Name); msg != "" {
				problems = append(problems, fmt.Sprintf("Ignition enabled %s on the provisioning boot, but %s", op.Name, msg))
			}
		}
	}
	t.Evidence(name, "", strings.Join(seen, ", "))
	return problems
}

// unitEnabled asks systemctl is-enabled (systemctl(1): exit 0 for
// enabled, static, alias, indirect, generated; 1 for disabled or masked,
// with the state on stdout), of the host's root when that is not / (it
// reads the unit files there); "" when enabled or systemctl is not there.
func unitEnabled(ctx context.Context, h *selftest.Host, unit string) string {
	argv := []string{"systemctl", "is-enabled", "--", unit}
	if h.Root != "" && h.Root != "/" {
		argv = []string{"systemctl", "--root=" + h.Root, "is-enabled", "--", unit}
	}
	out, err := h.Run(ctx, 10*time.Second, argv...)
	var ee *selftest.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrNotFound):
		return ""
	case errors.As(err, &ee):
		state := strings.TrimSpace(string(out))
		if state == "" {
			state = strings.TrimSpace(ee.Stderr)
		}
		return "systemctl is-enabled says " + strconv.Quote(state)
	default:
		return fmt.Sprintf("systemctl is-enabled: %v", err)
	}
}

// errNoJournal: journalctl is not there, or the provisioning boot is not
// in the journal (a volatile journal, or rotated away).
var errNoJournal = errors.New("the provisioning boot's journal is not available")

// journalKeyWrites asks journalctl for Ignition's key entries of the
// provisioning boot, as JSON (one object per line, journalctl(1)
// --output=json).
func journalKeyWrites(ctx context.Context, h *selftest.Host, bootID string) ([]ignitionfmt.KeyWrite, error) {
	argv := append([]string{"journalctl", "--no-pager", "--output=json",
		"--boot=" + strings.ReplaceAll(bootID, "-", ""), "MESSAGE_ID=" + ignitionfmt.SSHKeysMessageID}, ignitionfmt.Source.Matches()...)
	out, err := journalRun(ctx, h, argv)
	if err != nil {
		return nil, err
	}
	return ignitionfmt.ParseKeyWrites(out)
}

// journalRun runs one journalctl query of the provisioning boot, bounded
// to 20 s; errNoJournal when journalctl or that boot is not there.
func journalRun(ctx context.Context, h *selftest.Host, argv []string) ([]byte, error) {
	out, err := h.Run(ctx, 20*time.Second, argv...)
	var ee *selftest.ExitError
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return nil, fmt.Errorf("%w (no journalctl)", errNoJournal)
	case errors.As(err, &ee):
		// journalctl exits 1 for a boot it does not have.
		return nil, fmt.Errorf("%w: %v", errNoJournal, err)
	case err != nil:
		return nil, err
	}
	return out, nil
}

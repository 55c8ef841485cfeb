package qemu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

func testIgnition() *Ignition {
	return &Ignition{Seed: *testSeed()}
}

// ignConfig is the part of a spec 3 config the tests read back, decoded
// with plain encoding/json (not the library that wrote it).
type ignConfig struct {
	Ignition struct{ Version string }
	Passwd   struct {
		Users []struct {
			Name              string
			SSHAuthorizedKeys []string
		}
	}
	Storage struct {
		Files []struct {
			Path      string
			Mode      int
			Overwrite bool
			Contents  struct{ Source string }
		}
	}
	Systemd struct {
		Units []struct {
			Name     string
			Enabled  bool
			Contents string
		}
	}
}

func (c *ignConfig) file(t *testing.T, path string) (string, int) {
	t.Helper()
	for _, f := range c.Storage.Files {
		if f.Path == path {
			b64, ok := strings.CutPrefix(f.Contents.Source, "data:;base64,")
			if !ok {
				return f.Contents.Source, f.Mode
			}
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			if !f.Overwrite {
				t.Errorf("%s: overwrite is false; the image's own file would make Ignition fail", path)
			}
			return string(b), f.Mode
		}
	}
	t.Fatalf("no file %s in %+v", path, c.Storage.Files)
	return "", 0
}

func (c *ignConfig) keys(user string) []string {
	for _, u := range c.Passwd.Users {
		if u.Name == user {
			return u.SSHAuthorizedKeys
		}
	}
	return nil
}

// validate runs Debian's ignition-validate (Ignition 2.14, the version
// the testbed's initramfs runs) on a config and fails on any output.
func validate(t *testing.T, raw []byte) {
	t.Helper()
	iv := testutil.NeedCommand(t, "ignition", "ignition-validate")
	f := filepath.Join(t.TempDir(), "config.ign")
	if err := os.WriteFile(f, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(iv, f).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("ignition-validate: %v: %s\n%s", err, out, raw)
	}
}

func decode(t *testing.T, raw []byte) *ignConfig {
	t.Helper()
	var c ignConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestIgnitionConfig(t *testing.T) {
	raw, err := testIgnition().JSON()
	if err != nil {
		t.Fatal(err)
	}
	validate(t, raw)
	c := decode(t, raw)
	if c.Ignition.Version != "3.3.0" {
		t.Errorf("version %q", c.Ignition.Version)
	}
	for _, u := range []string{"root", "core"} {
		if k := c.keys(u); len(k) != 1 || !strings.HasPrefix(k[0], "ssh-ed25519 ") {
			t.Errorf("user %s keys = %v", u, k)
		}
	}
	if s, m := c.file(t, "/etc/hostname"); s != "testbed-1\n" || m != 0o644 {
		t.Errorf("/etc/hostname %q mode %o", s, m)
	}
	if s, m := c.file(t, "/etc/ssh/ssh_host_ed25519_key"); !strings.Contains(s, "OPENSSH PRIVATE KEY") || m != 0o600 {
		t.Errorf("host key %q mode %o", s, m)
	}
	if s, _ := c.file(t, "/etc/ssh/ssh_host_ed25519_key.pub"); s != "ssh-ed25519 AAAAhost\n" {
		t.Errorf("host key pub %q", s)
	}
	if len(c.Systemd.Units) != 1 || c.Systemd.Units[0].Name != FirstBootUnit || !c.Systemd.Units[0].Enabled {
		t.Fatalf("units = %+v", c.Systemd.Units)
	}
	unit := c.Systemd.Units[0].Contents
	for _, want := range []string{"ConditionPathExists=!/var/lib/m/ran\n", `"/var/lib/m/ran" "iid-1"` + "\n", `ExecStart="touch" "/tmp/a b"` + "\n", "WantedBy=multi-user.target"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	// systemd's specifiers and variables in the marker's script are doubled.
	if !strings.Contains(unit, `\"$$(dirname \"$$1\")\"`) || !strings.Contains(unit, `'%%s\\n'`) {
		t.Errorf("the script's $ is not escaped for systemd:\n%s", unit)
	}
}

// Each argument of the first-boot unit's command lines is quoted as
// systemd.service(5) reads them; a newline, which would end the line, is
// refused.
func TestFirstBootUnitArgv(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`a b`, `"a b"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{`100%`, `"100%%"`},
		{`$HOME`, `"$$HOME"`},
	} {
		got, err := systemdQuote(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("systemdQuote(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := systemdQuote("two\nlines"); err == nil || !strings.Contains(err.Error(), "control character") {
		t.Errorf("a newline was quoted: %v", err)
	}
	g := testIgnition()
	g.RunCmd = [][]string{{"touch", "x\ny"}}
	if _, err := g.Config(); err == nil || !strings.Contains(err.Error(), "first-boot command 2: argument") {
		t.Errorf("a command with a newline was accepted: %v", err)
	}
}

func writeAdmin(t *testing.T, body string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "admin.ign")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// An admin's config is merged, not replaced: its users, files and units
// stay, its key for core joins the driver's, and where it sets what the
// driver sets (the host name) the driver's value wins. A 3.0.0 config is
// translated as Ignition translates it.
func TestIgnitionMergeAdmin(t *testing.T) {
	for _, version := range []string{"3.0.0", "3.3.0"} {
		t.Run(version, func(t *testing.T) {
			admin := `{"ignition":{"version":"` + version + `"},
  "passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAAadmin admin@site"]},{"name":"ops","groups":["wheel"]}]},
  "storage":{"files":[{"path":"/etc/hostname","overwrite":true,"contents":{"source":"data:,site-name"}},
    {"path":"/etc/motd","mode":420,"contents":{"source":"data:,hello"}}]},
  "systemd":{"units":[{"name":"site.service","enabled":true,"contents":"[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"}]}}`
			cfg, err := ParseAdminIgnition(writeAdmin(t, admin))
			if err != nil {
				t.Fatal(err)
			}
			g := testIgnition()
			g.Admin = cfg
			raw, err := g.JSON()
			if err != nil {
				t.Fatal(err)
			}
			validate(t, raw)
			c := decode(t, raw)
			core := c.keys("core")
			if !slices.Contains(core, "ssh-ed25519 AAAAadmin admin@site") || !slices.Contains(core, testSeed().AuthorizedKeys[0]) {
				t.Errorf("core's keys = %v, want the admin's and the driver's", core)
			}
			if k := c.keys("root"); len(k) != 1 {
				t.Errorf("root's keys = %v", k)
			}
			if c.keys("ops") != nil || !slices.ContainsFunc(c.Passwd.Users, func(u struct {
				Name              string
				SSHAuthorizedKeys []string
			}) bool {
				return u.Name == "ops"
			}) {
				t.Errorf("the admin's user ops is gone: %+v", c.Passwd.Users)
			}
			if s, _ := c.file(t, "/etc/hostname"); s != "testbed-1\n" {
				t.Errorf("/etc/hostname = %q, want the driver's", s)
			}
			if s, _ := c.file(t, "/etc/motd"); s != "data:,hello" {
				t.Errorf("the admin's /etc/motd: %q", s)
			}
			var units []string
			for _, u := range c.Systemd.Units {
				units = append(units, u.Name)
			}
			if !slices.Equal(units, []string{"site.service", FirstBootUnit}) {
				t.Errorf("units = %v", units)
			}
		})
	}
}

// A bad --qemu-ignition file is refused, naming the file and the field.
func TestParseAdminIgnitionBad(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"not JSON", `{"ignition": {"version": "3.3.0"},`, []string{"error at line", "unexpected end of JSON input"}},
		{"unknown key", `{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"core","sshAuthorisedKeys":["k"]}]}}`,
			[]string{"warning at $.passwd.users.0.sshAuthorisedKeys", "unused key sshAuthorisedKeys"}},
		{"wrong type", `{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/x","mode":"0644"}]}}`,
			[]string{"error at line 1 col 83", "storage.files.FileEmbedded1.mode of type int"}},
		{"relative path", `{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"etc/x"}]}}`,
			[]string{"error at $.storage.files.0.path", "path not absolute"}},
		{"spec 3.4", `{"ignition":{"version":"3.4.0"}}`, []string{"$.ignition.version", "3.0.0 to 3.3.0"}},
		{"spec 2", `{"ignition":{"version":"2.2.0"}}`, []string{"$.ignition.version"}},
		{"empty", ``, []string{"not a config (empty)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeAdmin(t, tc.body)
			_, err := ParseAdminIgnition(f)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(tc.want, "ignition config "+f+": ") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := ParseAdminIgnition("/nonexistent/admin.ign"); err == nil || !strings.Contains(err.Error(), "/nonexistent/admin.ign") {
		t.Errorf("missing file: %v", err)
	}
}

// A VM seeded for Ignition under UEFI: QEMU takes the config on fw_cfg
// (it would exit at once on a bad -fw_cfg) and OVMF runs (its boot manager
// says so on the serial console, finding nothing to boot on a blank disk);
// the config is in the private directory, mode 0600 (it holds the guest's
// host key), valid for Ignition 2.14, and no NoCloud seed is made.
func TestStartIgnitionUEFI(t *testing.T) {
	needQEMU(t)
	for _, f := range []string{OVMFCode, OVMFVars} {
		_, err := os.Stat(f)
		testutil.Need(t, "ovmf", err == nil, f+" is missing")
	}
	admin := writeAdmin(t, `{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/motd","contents":{"source":"data:,site"}}]}}`)
	vm, err := Start(context.Background(), Config{Name: "uefi", Image: blankImage(t), Dir: t.TempDir(), Memory: 256, CPUs: 1,
		Provision: ProvisionIgnition, IgnitionConfig: admin, Firmware: FirmwareUEFI})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	secrets := filepath.Dir(vm.KeyFile())
	cfg := filepath.Join(secrets, "config.ign")
	if i := slices.Index(vm.cmd.Args, "-fw_cfg"); i < 0 || vm.cmd.Args[i+1] != "name=opt/com.coreos/config,file="+cfg {
		t.Errorf("no fw_cfg config in %q", vm.cmd.Args)
	}
	if !slices.Contains(vm.cmd.Args, "if=pflash,format=raw,unit=0,readonly=on,file="+OVMFCode) {
		t.Errorf("no OVMF in %q", vm.cmd.Args)
	}
	fi, err := os.Stat(cfg)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config %s: %v %v", cfg, fi, err)
	}
	raw, _ := os.ReadFile(cfg)
	validate(t, raw)
	if c := decode(t, raw); c.keys("root") == nil {
		t.Errorf("no key for root in %s", raw)
	}
	if !strings.Contains(string(raw), "data:,site") {
		t.Errorf("the admin's file is not in the config")
	}
	if _, err := os.Stat(filepath.Join(secrets, "seed.iso")); !os.IsNotExist(err) {
		t.Errorf("a NoCloud seed was made for an Ignition guest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := vm.WaitConsole(ctx, 0, regexp.MustCompile(`BdsDxe|UEFI`)); err != nil {
		t.Errorf("OVMF said nothing on the console: %v; console: %q", err, vm.Console(10))
	}
}

// Start refuses what cannot work, before QEMU runs: an admin's Ignition
// config on a cloud-init guest, a bad config, an unknown firmware.
func TestStartIgnitionErrors(t *testing.T) {
	needQEMU(t)
	bad := writeAdmin(t, `{"ignition":{"version":"3.3.0"},"systemd":{"units":[{"name":"x"}]}}`)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{IgnitionConfig: bad}, "needs Ignition provisioning, not cloud-init"},
		{Config{Provision: ProvisionIgnition, IgnitionConfig: bad}, "ignition config " + bad + ": error at $.systemd.units.0.name"},
		{Config{Firmware: "coreboot"}, `firmware "coreboot": want bios or uefi`},
		{Config{Provision: "kickstart"}, `provision "kickstart"`},
	} {
		tc.cfg.Name, tc.cfg.Image, tc.cfg.Dir = "bad", blankImage(t), t.TempDir()
		if _, err := Start(context.Background(), tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// ignitionBinary is where Debian's package ignition puts Ignition itself:
// inside its dracut module, for the initramfs (30ignition/module-setup.sh
// installs it as /usr/bin/ignition there).
const ignitionBinary = "/usr/lib/dracut/modules.d/30ignition/ignition"

// The driver's config, merged with an admin's, applied by Debian's real
// Ignition 2.14 to a root directory the way its initramfs stages apply it
// to /sysroot (fetch-offline from the file platform, then files): the
// driver's key lands in root's and core's authorized_keys.d/ignition
// (owned by each, mode 0600), core is created, the host name, the host key
// (0600) and the first-boot unit (enabled through Ignition's preset file)
// are written, the admin's user and file are there too, and Ignition's
// result file is written. Debian's Ignition relabels what it wrote with
// setfiles, so the root has an SELinux config whose file_contexts says to
// label nothing (<<none>>), as a root without a policy would want.
func TestIgnitionAppliesConfig(t *testing.T) {
	testutil.NeedRoot(t)
	_, err := os.Stat(ignitionBinary)
	testutil.Need(t, "ignition", err == nil, ignitionBinary+" is missing")
	testutil.NeedCommand(t, "policycoreutils", "setfiles")
	testutil.NeedCommand(t, "passwd", "useradd")
	dir := t.TempDir()
	// Ignition writes a user's key files as that user: the path down to
	// the root must be searchable by others, as / is.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, "root")
	for rel, data := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n", "etc/group": "root:x:0:\nusers:x:100:\n",
		"etc/shadow": "root:*:19000:0:99999:7:::\n", "etc/gshadow": "root:*::\nusers:*::\n",
		"etc/hostname": "localhost\n", "etc/selinux/config": "SELINUX=disabled\nSELINUXTYPE=testbed\n",
		"etc/selinux/testbed/contexts/files/file_contexts": "/.*\t<<none>>\n",
	} {
		testutil.WriteFile(t, root, rel, data)
	}
	for _, d := range []string{"root", "home"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := ParseAdminIgnition(writeAdmin(t, `{"ignition":{"version":"3.3.0"},
  "passwd":{"users":[{"name":"ops"}]},
  "storage":{"files":[{"path":"/etc/motd","mode":420,"contents":{"source":"data:,site%20motd"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	g := &Ignition{Seed: *testSeed(), Admin: admin}
	cfg := filepath.Join(dir, "config.ign")
	if err := g.WriteFile(cfg); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"fetch-offline", "files"} {
		cmd := exec.Command(ignitionBinary, "--root="+root, "--platform=file", "--stage="+stage, "--log-to-stdout",
			"--config-cache="+filepath.Join(dir, "cache.json"), "--state-file="+filepath.Join(dir, "state"), "--neednet="+filepath.Join(dir, "neednet"))
		cmd.Env = append(os.Environ(), "IGNITION_CONFIG_FILE="+cfg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ignition --stage=%s: %v\n%s", stage, err, out)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	uids := map[string]uint32{}
	for _, l := range strings.Split(string(passwd), "\n") {
		if f := strings.Split(l, ":"); len(f) == 7 {
			uid, _ := strconv.Atoi(f[2])
			uids[f[0]] = uint32(uid)
		}
	}
	if _, ok := uids["ops"]; !ok {
		t.Errorf("the admin's user ops was not created: %s", passwd)
	}
	for user, home := range map[string]string{"root": "root", "core": "home/core"} {
		uid, ok := uids[user]
		if !ok {
			t.Errorf("no user %s in %s", user, passwd)
			continue
		}
		p := filepath.Join(root, home, ".ssh/authorized_keys.d/ignition")
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), testSeed().AuthorizedKeys[0]) {
			t.Errorf("%s: %q %v, want the driver's key", p, b, err)
			continue
		}
		fi, _ := os.Stat(p)
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: uid %d mode %o, want uid %d mode 600", p, st.Uid, fi.Mode().Perm(), uid)
		}
	}
	for rel, want := range map[string]string{
		"etc/hostname": "testbed-1\n",
		"etc/motd":     "site motd",
		"etc/systemd/system-preset/20-ignition.preset": "enable " + FirstBootUnit + "\n",
	} {
		if b, err := os.ReadFile(filepath.Join(root, rel)); err != nil || string(b) != want {
			t.Errorf("/%s = %q (%v), want %q", rel, b, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/ssh/ssh_host_ed25519_key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host key: %v %v", fi, err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/systemd/system", FirstBootUnit)); err != nil || !strings.Contains(string(b), "ConditionPathExists=!/var/lib/m/ran") {
		t.Errorf("the first-boot unit: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/.ignition-result.json")); err != nil || !strings.Contains(string(b), `"userConfigProvided": true`) {
		t.Errorf("Ignition's result file: %q %v", b, err)
	}
}

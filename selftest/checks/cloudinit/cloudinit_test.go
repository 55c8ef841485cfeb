package cloudinit

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/cloudinithost"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

var trees = []string{"cloudinit-17.1", "cloudinit-26.2"}

// copyTree copies a fixture into a temporary root and makes the links
// cloud-init makes: /run/cloud-init/{status,result}.json relative to
// /var/lib/cloud/data, /var/lib/cloud/instance absolute to the instance's
// directory. They are made here because the source tarball the RPM's
// %check runs from leaves links out.
func copyTree(t testing.TB, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", filepath.Join("testdata", name), dst).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v %s", name, err, out)
	}
	iid, err := os.ReadFile(filepath.Join(dst, "var/lib/cloud/data/instance-id"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dst, "run/cloud-init"), 0o755)
	for link, target := range map[string]string{
		"run/cloud-init/status.json": "../../var/lib/cloud/data/status.json",
		"run/cloud-init/result.json": "../../var/lib/cloud/data/result.json",
		"var/lib/cloud/instance":     "/var/lib/cloud/instances/" + strings.TrimSpace(string(iid)),
	} {
		if err := os.Symlink(target, filepath.Join(dst, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// hostAt is a host rooted at root that reads /run and the running host
// name from the tree as a live host would.
func hostAt(root string) *selftest.RunContext {
	cfg := config.Defaults()
	cfg.Cloudinit.RequireVirtualized = false
	h := selftest.NewRunContext(selftest.NewHost(root), cfg)
	h.Offline = false
	return h
}

func run(t testing.TB, h *selftest.RunContext, id string) record.Result {
	t.Helper()
	return checktest.One(t, h, checktest.Registered(t, id))
}

func write(t *testing.T, root, rel, data string) {
	t.Helper()
	p := filepath.Join(root, rel)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func instance(t *testing.T, root string) string {
	t.Helper()
	p, err := rootfs.Resolve(root, cloudinithost.InstanceDir)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(p, root)
}

// setStageError puts err into status.json's stage and result.json.
func setStageError(t *testing.T, root, stage, msg string) {
	t.Helper()
	p := filepath.Join(root, "var/lib/cloud/data/status.json")
	b, _ := os.ReadFile(p)
	var st map[string]map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	st["v1"][stage].(map[string]any)["errors"] = []string{msg}
	b, _ = json.Marshal(st)
	write(t, root, "var/lib/cloud/data/status.json", string(b))
	write(t, root, "var/lib/cloud/data/result.json", `{"v1": {"datasource": "x", "errors": [`+string(mustJSON(msg))+`]}}`)
}

// dropKey removes the lines holding who's key from fedora's authorized_keys.
func dropKey(who string) func(t *testing.T, tree, root string) {
	return func(t *testing.T, tree, root string) {
		p := filepath.Join(root, "var/home/fedora/.ssh/authorized_keys")
		b, _ := os.ReadFile(p)
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.Contains(l, who) {
				keep = append(keep, l)
			}
		}
		os.WriteFile(p, []byte(strings.Join(keep, "\n")), 0o600)
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// Every check passes on the good tree of each layout.
func TestGoodTrees(t *testing.T) {
	for _, tree := range trees {
		for _, id := range []string{"cloudinit.finished", "cloudinit.sshkey", "cloudinit.hostname", "cloudinit.scripts"} {
			t.Run(tree+"/"+id, func(t *testing.T) {
				r := run(t, hostAt(copyTree(t, tree)), id)
				if r.Status != record.StatusPass {
					t.Fatalf("%s: %s (%v)", r.Status, r.Message, r.Evidence)
				}
			})
		}
	}
}

// Each breakage fails the right check with a message naming the exact
// key, host name, script or stage.
func TestBrokenTrees(t *testing.T) {
	keyA := "ssh-ed25519 SHA256:"
	cases := []struct {
		name   string
		id     string
		breaks func(t *testing.T, tree, root string)
		want   map[string]string // tree -> substring of the message; "*" for both
	}{
		{"user-data key missing", "cloudinit.sshkey", dropKey("usera@"), map[string]string{"*": "(usera@example.test) requested by /var/lib/cloud/instance/cloud-config.txt ssh_authorized_keys is not in /var/home/fedora/.ssh/authorized_keys of user fedora"}},
		{"datasource key missing", "cloudinit.sshkey", dropKey("userb@"), map[string]string{
			"cloudinit-17.1": "(userb@example.test) requested by /var/lib/cloud/seed/nocloud/meta-data public-keys is not in",
			"cloudinit-26.2": "(userb@example.test) requested by /run/cloud-init/instance-data.json v1.public_ssh_keys is not in",
		}},
		{"other user's key missing", "cloudinit.sshkey", func(t *testing.T, tree, root string) {
			os.Remove(filepath.Join(root, "var/home/alice/.ssh/authorized_keys"))
		}, map[string]string{"cloudinit-26.2": "user alice has no /var/home/alice/.ssh/authorized_keys"}},
		{"host name differs", "cloudinit.hostname", func(t *testing.T, tree, root string) {
			write(t, root, "proc/sys/kernel/hostname", "localhost\n")
		}, map[string]string{
			"cloudinit-17.1": `the running host name is "localhost", but /var/lib/cloud/instance/cloud-config.txt fqdn asked for "atomic-17 or atomic-17.example.test"`,
			"cloudinit-26.2": `the running host name is "localhost", but /run/cloud-init/instance-data.json v1.local_hostname asked for "atomic-current"`,
		}},
		{"scripts semaphore missing", "cloudinit.scripts", func(t *testing.T, tree, root string) {
			os.Remove(filepath.Join(root, instance(t, root), "sem/config_scripts_user"))
		}, map[string]string{"*": "script part-002 did not run: semaphore sem/config_scripts_user is missing"}},
		{"runcmd semaphore missing", "cloudinit.scripts", func(t *testing.T, tree, root string) {
			os.Remove(filepath.Join(root, instance(t, root), "sem/config_runcmd"))
		}, map[string]string{"*": "runcmd was requested but the runcmd module did not write it (semaphore config_runcmd missing"}},
		{"script failed", "cloudinit.scripts", func(t *testing.T, tree, root string) {
			if tree == "cloudinit-17.1" {
				// 17.1 on Python 3.6: str() of the (module, exception) tuple.
				setStageError(t, root, "modules-final", "('scripts-user', RuntimeError('Runparts: 1 failures in 2 attempted commands',))")
				f, _ := os.OpenFile(filepath.Join(root, "var/log/cloud-init.log"), os.O_APPEND|os.O_WRONLY, 0)
				f.WriteString("2018-06-04 10:00:07,150 - util.py[WARNING]: Failed running /var/lib/cloud/instance/scripts/part-002 [1]\n")
				f.Close()
			} else {
				setStageError(t, root, "modules-final", "('scripts_user', RuntimeError('Runparts: 1 failures (part-002) in 2 attempted commands'))")
			}
		}, map[string]string{
			"cloudinit-17.1": "script part-002 failed (exit status 1 in /var/log/cloud-init.log)",
			"cloudinit-26.2": "script part-002 failed (stage modules-final: ('scripts_user', RuntimeError('Runparts: 1 failures (part-002) in 2 attempted commands')))",
		}},
		{"stage error", "cloudinit.finished", func(t *testing.T, tree, root string) {
			setStageError(t, root, "init", "('ssh', OSError(2, 'No such file or directory'))")
		}, map[string]string{"*": "stage init reported ('ssh', OSError(2, 'No such file or directory'))"}},
		{"stage unfinished", "cloudinit.finished", func(t *testing.T, tree, root string) {
			p := filepath.Join(root, "var/lib/cloud/data/status.json")
			b, _ := os.ReadFile(p)
			var st map[string]map[string]any
			json.Unmarshal(b, &st)
			st["v1"]["modules-final"].(map[string]any)["finished"] = nil
			st["v1"]["stage"] = "modules-final"
			os.WriteFile(p, mustJSON(st), 0o644)
		}, map[string]string{"*": "cloud-init is still in stage modules-final; stage modules-final started but did not finish"}},
		{"not this boot", "cloudinit.finished", func(t *testing.T, tree, root string) {
			os.RemoveAll(filepath.Join(root, "run/cloud-init"))
		}, map[string]string{"*": "cloud-init did not run on this boot: no /run/cloud-init/status.json, only an earlier boot's /var/lib/cloud/data/status.json"}},
		{"boot-finished missing", "cloudinit.finished", func(t *testing.T, tree, root string) {
			os.Remove(filepath.Join(root, instance(t, root), "boot-finished"))
		}, map[string]string{"*": "/var/lib/cloud/instance/boot-finished is missing"}},
		{"malformed status.json", "cloudinit.finished", func(t *testing.T, tree, root string) {
			write(t, root, "var/lib/cloud/data/status.json", `{"v1": {"init": {"errors": [`)
		}, map[string]string{"*": "cloud-init's status is unreadable: /run/cloud-init/status.json: unexpected end of JSON input"}},
		{"malformed cloud-config", "cloudinit.sshkey", func(t *testing.T, tree, root string) {
			write(t, root, instance(t, root)+"/cloud-config.txt", "#cloud-config\nssh_authorized_keys: {a: [\n")
		}, map[string]string{"*": "/var/lib/cloud/instance/cloud-config.txt: yaml:"}},
		{"instance link loop", "cloudinit.scripts", func(t *testing.T, tree, root string) {
			p := filepath.Join(root, "var/lib/cloud/instance")
			os.Remove(p)
			os.Symlink("/var/lib/cloud/instance", p)
		}, map[string]string{"*": "/var/lib/cloud/instance/cloud-config.txt: too many levels of symbolic links (a loop?)"}},
		{"100 MB status.json", "cloudinit.finished", func(t *testing.T, tree, root string) {
			p := filepath.Join(root, "var/lib/cloud/data/status.json")
			os.Truncate(p, 100<<20) // sparse: no disk, but 100 MB to read
		}, map[string]string{"*": "status.json: larger than the 8 MiB limit for state records"}},
	}
	for _, c := range cases {
		for _, tree := range trees {
			want := c.want[tree]
			if want == "" {
				want = c.want["*"]
			}
			if want == "" {
				continue
			}
			t.Run(tree+"/"+c.name, func(t *testing.T) {
				root := copyTree(t, tree)
				c.breaks(t, tree, root)
				r := run(t, hostAt(root), c.id)
				if r.Status != record.StatusFail {
					t.Fatalf("status %s, want fail: %s", r.Status, r.Message)
				}
				if !strings.Contains(r.Message, want) {
					t.Fatalf("message %q\nlacks %q", r.Message, want)
				}
				if c.id == "cloudinit.sshkey" && strings.Contains(want, "usera@") && !strings.Contains(r.Message, keyA) {
					t.Fatalf("message does not give the key's fingerprint: %q", r.Message)
				}
			})
		}
	}
}

// Where nothing of a kind was asked, that check skips and says so.
func TestNothingRequested(t *testing.T) {
	root := copyTree(t, "cloudinit-26.2")
	inst := instance(t, root)
	write(t, root, inst+"/cloud-config.txt", "#cloud-config\n{}\n")
	os.RemoveAll(filepath.Join(root, inst, "scripts"))
	write(t, root, "run/cloud-init/instance-data.json", `{"v1": {"public_ssh_keys": [], "local_hostname": null}}`)
	h := hostAt(root)
	for id, want := range map[string]string{
		"cloudinit.sshkey":   "no ssh key was requested",
		"cloudinit.hostname": "no host name was requested",
		"cloudinit.scripts":  "no user scripts and no runcmd were requested",
	} {
		r := run(t, h, id)
		if r.Status != record.StatusSkip || !strings.Contains(r.Message, want) {
			t.Errorf("%s: %s %q, want skip %q", id, r.Status, r.Message, want)
		}
	}
}

// The checks skip where cloud-init is missing or disabled, and on bare
// metal when cloudinit.require_virtualized is set.
func TestApplies(t *testing.T) {
	cases := []struct {
		name  string
		setup func(root string, h *selftest.RunContext)
		want  string
	}{
		{"virtual machine", func(root string, h *selftest.RunContext) {
			h.NewSystemd = (&checktest.Systemd{State: record.ManagerState{Virtualization: "kvm"}}).Open
		}, ""},
		{"bare metal", func(root string, h *selftest.RunContext) {
			h.NewSystemd = (&checktest.Systemd{State: record.ManagerState{Virtualization: ""}}).Open
		}, "the host is not virtualised (systemd's Virtualization property: none)"},
		{"container", func(root string, h *selftest.RunContext) {
			h.NewSystemd = (&checktest.Systemd{State: record.ManagerState{Virtualization: "docker"}}).Open
		}, "the host is not virtualised (systemd's Virtualization property says container docker, not a virtual machine)"},
		{"bare metal but not required", func(root string, h *selftest.RunContext) {
			h.Config.Cloudinit.RequireVirtualized = false
			h.NewSystemd = (&checktest.Systemd{State: record.ManagerState{Virtualization: ""}}).Open
		}, ""},
		{"not installed", func(root string, h *selftest.RunContext) {
			os.Remove(filepath.Join(root, "usr/bin/cloud-init"))
			os.Remove(filepath.Join(root, "etc/cloud/cloud.cfg"))
		}, "cloud-init is not installed"},
		{"disabled", func(root string, h *selftest.RunContext) {
			write(t, root, "etc/cloud/cloud-init.disabled", "")
		}, "cloud-init is disabled (/etc/cloud/cloud-init.disabled exists)"},
		{"disabled on the command line", func(root string, h *selftest.RunContext) {
			write(t, root, "proc/cmdline", "root=/dev/vda1 cloud-init=disabled quiet\n")
		}, "cloud-init is disabled (cloud-init=disabled on the kernel command line)"},
		// Ignition's result file (coreos/ignition internal/distro/distro.go)
		// or its kernel arguments: Ignition provisioned the host.
		{"provisioned by Ignition", func(root string, h *selftest.RunContext) {
			write(t, root, "etc/.ignition-result.json", `{"provisioningBootID":"0b5c3b6e-4a47-4a63-9a7c-5b0f4a4c1d2e","provisioningDate":"2026-12-01T10:00:00Z","userConfigProvided":true}`)
		}, "provisioned by Ignition (/etc/.ignition-result.json exists), not cloud-init: ignition.provisioned judges it"},
		{"Ignition on the command line", func(root string, h *selftest.RunContext) {
			write(t, root, "proc/cmdline", "root=UUID=x ignition.platform.id=qemu quiet\n")
		}, "provisioned by Ignition (ignition.platform.id=qemu is on the kernel command line)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := copyTree(t, "cloudinit-26.2")
			h := hostAt(root)
			h.Config.Cloudinit.RequireVirtualized = true
			h.NewSystemd = (&checktest.Systemd{State: record.ManagerState{Virtualization: "kvm"}}).Open
			c.setup(root, h)
			got := cloudinithost.NeedCloudInit(context.Background(), h)
			if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("applies = %q, want %q", got, c.want)
			}
		})
	}
}

// Where systemd cannot answer, systemd-detect-virt does: the real one.
func TestVirtualizationFallback(t *testing.T) {
	if _, err := exec.LookPath("systemd-detect-virt"); err != nil {
		t.Skip("systemd-detect-virt is not installed")
	}
	h := hostAt(t.TempDir())
	h.NewSystemd = func(context.Context) (selftest.Systemd, error) { return nil, errors.New("no bus") }
	v, how := cloudinithost.Virtualization(context.Background(), h.Host)
	out, _ := exec.Command("systemd-detect-virt").Output()
	want := strings.TrimSpace(string(out))
	if cloudinithost.ContainerTypes[want] {
		want = "none"
	}
	if v != want || !strings.HasPrefix(how, "systemd-detect-virt") {
		t.Fatalf("virtualization = %q (%s), systemd-detect-virt says %q", v, how, want)
	}
}

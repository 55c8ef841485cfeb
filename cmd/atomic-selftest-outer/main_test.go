package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/outer/outertest"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := mainCode(context.Background(), args, &out, &errb, false)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	goodIgn := filepath.Join(dir, "good.ign")
	badIgn := filepath.Join(dir, "bad.ign")
	for f, body := range map[string]string{disk: "", goodIgn: `{"ignition":{"version":"3.3.0"}}`,
		badIgn: `{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"etc/motd"}]}}`} {
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"run"}, "no hosts: give --host, --inventory or --qemu-image"},
		{[]string{"run", "--host", "h"}, "no credentials"},
		{[]string{"run", "--host", "h:99999", "-i", "k"}, `--host: host "h:99999": port "99999" is not a port`},
		{[]string{"run", "--host", "h", "-i", "k", "--profile", "nope"}, `--profile "nope"`},
		{[]string{"run", "--host", "h", "-i", "k", "--plan", "p.toml", "--profile", "ostree"}, "exclude each other"},
		{[]string{"run", "--host", "h", "-i", "k", "--parallel", "0"}, "--parallel 0"},
		{[]string{"run", "--host", "h", "-i", "k", "--reboot-timeout", "0s"}, "--reboot-timeout 0s"},
		{[]string{"run", "--host", "h", "-i", "/nonexistent/key"}, "no such file"},
		{[]string{"run", "--inventory", "/nonexistent/hosts", "-i", "k"}, "inventory"},
		{[]string{"run", "--qemu-image", "/nonexistent/disk.img"}, "--qemu-image /nonexistent/disk.img: not a readable disk image file"},
		{[]string{"run", "--qemu-image", "/", "--qemu-accel", "hvf"}, `--qemu-accel "hvf"`},
		{[]string{"run", "--qemu-image", disk, "--qemu-provision", "kickstart"}, `--qemu-provision "kickstart": want auto, cloud-init or ignition`},
		{[]string{"run", "--qemu-image", disk, "--qemu-firmware", "coreboot"}, `--qemu-firmware "coreboot": want bios or uefi`},
		{[]string{"run", "--qemu-image", disk, "--qemu-provision", "cloud-init", "--qemu-ignition", goodIgn}, "--qemu-ignition needs --qemu-provision ignition or auto"},
		{[]string{"run", "--qemu-image", disk, "--qemu-ignition", "/nonexistent/site.ign"}, "--qemu-ignition: ignition config /nonexistent/site.ign: open"},
		// A bad config is refused before any VM boots, naming the file and the field.
		{[]string{"run", "--qemu-image", disk, "--qemu-ignition", badIgn}, "--qemu-ignition: ignition config " + badIgn + ": error at $.storage.files.0.path"},
		{[]string{"run", "--profile", "ostree", "--package", "x", "--host", "h", "-i", "k"}, ""},
	} {
		code, _, stderr := run(t, tc.args...)
		if tc.want == "" {
			continue // only checks that it does not panic
		}
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// The printed plans are valid plan files equal to the built-in ones.
func TestPlanRoundTrip(t *testing.T) {
	for name, mk := range plan.Profiles {
		if name == "auto" {
			continue
		}
		code, out, _ := run(t, "plan", "--profile", name)
		if code != 0 {
			t.Fatalf("plan %s: exit %d", name, code)
		}
		p := filepath.Join(t.TempDir(), "plan.toml")
		os.WriteFile(p, []byte(out), 0o600)
		got, err := plan.Load(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := mk(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: round trip differs:\n%+v\n%+v", name, got, want)
		}
	}
}

// A host that never answers: the run ends within its bounds with exit 1,
// every step failed with the reason, and the reports written.
func TestRunUnreachableHost(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	key := filepath.Join(dir, "id")
	os.WriteFile(key, pem.EncodeToMemory(block), 0o600)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	arts := filepath.Join(dir, "artifacts")
	code, out, stderr := run(t, "run", "--host", addr, "-i", key, "--known-hosts", filepath.Join(dir, "kh"),
		"--reboot-timeout", "1s", "--connect-timeout", "500ms", "--artifacts", arts)
	if code != ExitFailed {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, stderr)
	}
	if !regexp.MustCompile(`(?m)^\s+baseline\s+error`).MatchString(out) || !strings.Contains(out, "did not answer within 1s") || !strings.Contains(out, "plan auto: FAIL") {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(stderr, "baseline: error") {
		t.Errorf("progress lines:\n%s", stderr)
	}
	for _, n := range []string{"junit.xml", "report.json", "report.html", "report.md", "criteria.txt"} {
		if _, err := os.Stat(filepath.Join(arts, n)); err != nil {
			t.Error(err)
		}
	}
}

func simArgs(t *testing.T, f *outertest.Fleet, extra ...string) []string {
	args := []string{"run", "-i", f.KeyFile, "--poll-interval", "5ms", "--reboot-timeout", "5s", "--selftest-timeout", "5s", "--parallel", "4"}
	for _, h := range f.Hosts {
		args = append(args, "--host", h.Addr)
	}
	return append(args, extra...)
}

// The whole default plan through the command against simulated hosts
// whose keys are not known yet: --accept-new-host-key records them, the
// run passes with exit 0 and writes the reports. The hosts have
// rpm-ostree and the atomic CLI, so auto picks the default plan for each.
func TestRunDefaultPlanSim(t *testing.T) {
	f := outertest.NewFleet(t, 3, nil)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	arts := filepath.Join(t.TempDir(), "a")
	code, out, stderr := run(t, simArgs(t, f, "--known-hosts", kh, "--accept-new-host-key", "--artifacts", arts)...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "3 host(s), plan auto: PASS") || strings.Count(out, ": PASS (plan default)") != 3 {
		t.Errorf("table:\n%s", out)
	}
	data, _ := os.ReadFile(kh)
	for _, h := range f.Hosts {
		if !strings.Contains(string(data), outertest.KnownHostsLine(h.Addr, h.HostKey())) {
			t.Errorf("known_hosts lacks %s", h.Addr)
		}
	}
	if n := strings.Count(string(data), "\n"); n != 3 {
		t.Errorf("known_hosts has %d lines, want 3 (one per host, recorded once)", n)
	}
	// Without the flag a fresh known_hosts refuses the hosts.
	code, out, _ = run(t, simArgs(t, f, "--known-hosts", filepath.Join(t.TempDir(), "kh"), "--artifacts", t.TempDir())...)
	if code != ExitFailed || !strings.Contains(out, "--accept-new-host-key") {
		t.Errorf("unknown keys: exit %d\n%s", code, out)
	}
}

// --profile default against a plain ostree host fails once, at
// preflight, naming the missing tool and the profile that fits, not once
// per step.
func TestRunDefaultPlanOnOstreeHost(t *testing.T) {
	f := outertest.NewFleet(t, 1, func(_ int, h *outertest.Host) { h.Missing = []string{"rpm-ostree", "atomic"} })
	code, out, stderr := run(t, simArgs(t, f, "--known-hosts", f.KnownHosts, "--artifacts", t.TempDir(), "--profile", "default")...)
	if code != ExitFailed {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if n := strings.Count(out, "not applicable on this host: no rpm-ostree — use --profile ostree"); n != 1 || strings.Contains(out, "command not found") {
		t.Errorf("the reason is shown %d times (want 1):\n%s", n, out)
	}
	if !strings.Contains(stderr, "preflight: deployment tools: ostree;") {
		t.Errorf("progress lacks the preflight:\n%s", stderr)
	}
	if !regexp.MustCompile(`(?m)^\s+baseline\s+fail\s`).MatchString(out) || strings.Count(out, " fail ") != 1 {
		t.Errorf("want the baseline failed and no other step:\n%s", out)
	}
}

// With no --profile (auto) the same host gets the ostree plan and passes;
// the criteria table names the plan.
func TestRunAutoOstreeHost(t *testing.T) {
	f := outertest.NewFleet(t, 1, func(_ int, h *outertest.Host) { h.Missing = []string{"rpm-ostree", "atomic"} })
	code, out, stderr := run(t, simArgs(t, f, "--known-hosts", f.KnownHosts, "--artifacts", t.TempDir())...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, ": PASS (plan ostree)") || !strings.Contains(out, "ostree-rollback") || !strings.Contains(out, "plan auto: PASS") {
		t.Errorf("table:\n%s", out)
	}
}

// SIGINT/SIGTERM (a cancelled context): exit 4, reports of what ran.
func TestRunInterrupted(t *testing.T) {
	f := outertest.NewFleet(t, 2, func(_ int, h *outertest.Host) { h.DownFor = 200 * time.Millisecond })
	arts := filepath.Join(t.TempDir(), "a")
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	code := mainCode(ctx, simArgs(t, f, "--known-hosts", f.KnownHosts, "--artifacts", arts), &out, &errb, false)
	if code != ExitInterrupted {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "interrupted") || !strings.Contains(out.String(), "INTERRUPTED") {
		t.Errorf("table:\n%s", out.String())
	}
	data, err := os.ReadFile(filepath.Join(arts, "report.json"))
	if err != nil || !strings.Contains(string(data), `"interrupted": true`) {
		t.Errorf("report.json: %v", err)
	}
}

// The help names every command and the exit statuses; each command's
// --help shows its usage, options and the exit statuses, and exits 0.
func TestHelp(t *testing.T) {
	code, out, _ := run(t, "--help")
	if code != ExitOK || !strings.Contains(out, "EXIT STATUS") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
	for _, c := range commands {
		if !strings.Contains(out, "atomic-selftest-outer "+c.usage) || !strings.Contains(out, c.short) {
			t.Errorf("--help does not list %s:\n%s", c.name, out)
		}
		code, _, stderr := run(t, c.name, "--help")
		if code != ExitOK || !strings.HasPrefix(stderr, "Usage: atomic-selftest-outer "+c.usage) || !strings.Contains(stderr, "Options:\n") || !strings.HasSuffix(stderr, exitStatusHelp) {
			t.Errorf("%s --help: exit %d\n%s", c.name, code, stderr)
		}
	}
}

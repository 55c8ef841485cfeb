package ssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/outer/outertest"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

// sshdMachine is an SSH transport to s as root.
func sshdMachine(t *testing.T, s *outertest.SSHD, acceptNew bool) *Host {
	t.Helper()
	m, err := New(Config{Name: "sshd", Addr: s.Addr, User: "root", KeyFile: s.ClientKey,
		KnownHosts: s.KnownHosts, AcceptNewHostKey: acceptNew, DialTimeout: 10 * time.Second,
		NewHostKeyHint: "pass --accept-new-host-key"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestSSHRealSSHD(t *testing.T) {
	s := outertest.StartSSHD(t)
	ctx := context.Background()

	// First contact without AcceptNewHostKey: refused, and the message
	// says what to do in the caller's words.
	m := sshdMachine(t, s, false)
	_, err := m.Run(ctx, 10*time.Second, "true")
	var hk *transport.HostKeyError
	if !errors.As(err, &hk) || len(hk.Known) != 0 {
		t.Fatalf("unknown host key: got %v, want a HostKeyError for a new host", err)
	}
	if !strings.Contains(err.Error(), "--accept-new-host-key") || !strings.Contains(err.Error(), xssh.FingerprintSHA256(s.HostKey)) {
		t.Errorf("message does not give the hint and the fingerprint: %v", err)
	}

	// With it: the key is recorded in known_hosts, in OpenSSH's format.
	m = sshdMachine(t, s, true)
	res, err := m.Run(ctx, 10*time.Second, "id", "-u")
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(string(res.Stdout)) != "0" {
		t.Fatalf("id -u: %+v %v", res, err)
	}
	kh, _ := os.ReadFile(s.KnownHosts)
	want := outertest.KnownHostsLine(s.Addr, s.HostKey)
	if strings.TrimSpace(string(kh)) != want {
		t.Fatalf("known_hosts = %q, want %q", kh, want)
	}

	// Now the recorded key is checked without accept-new.
	m = sshdMachine(t, s, false)

	// Arguments reach the command exactly as given, whatever they hold.
	args := []string{"a b", "it's", "$HOME", "`id`", ";rm -rf /nonexistent", "", "*", "tab\there", "new\nline", `back\slash`, "-n"}
	res, err = m.Run(ctx, 10*time.Second, append([]string{"printf", "[%s]\\n"}, args...)...)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("printf: %+v %v", res, err)
	}
	var wantOut strings.Builder
	for _, a := range args {
		fmt.Fprintf(&wantOut, "[%s]\n", a)
	}
	if string(res.Stdout) != wantOut.String() {
		t.Errorf("quoting: got %q, want %q", res.Stdout, wantOut.String())
	}

	// Exit status and stderr come back.
	res, err = m.Run(ctx, 10*time.Second, "sh", "-c", "echo oops >&2; exit 3")
	if err != nil || res.ExitCode != 3 || strings.TrimSpace(string(res.Stderr)) != "oops" {
		t.Errorf("exit 3: %+v %v", res, err)
	}

	// A command over its timeout is stopped, and the machine is usable
	// afterwards.
	start := time.Now()
	_, err = m.Run(ctx, 500*time.Millisecond, "sleep", "29.37")
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("sleep 29.37 with 0.5s timeout: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("timeout took %s", d)
	}
	if res, err := m.Run(ctx, 10*time.Second, "true"); err != nil || res.ExitCode != 0 {
		t.Errorf("after a timeout: %+v %v", res, err)
	}
	// ... and the timed-out command does not go on running on the host.
	gone := false
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && !gone; time.Sleep(200 * time.Millisecond) {
		gone = exec.Command("pgrep", "-f", "^sleep 29.37$").Run() != nil
	}
	if !gone {
		t.Errorf("the timed-out sleep 29.37 still runs on the host")
	}

	// File transfer: binary content and mode survive, the write replaces
	// the file atomically (no temporary left behind).
	data := make([]byte, 300<<10)
	rand.Read(data)
	target := filepath.Join(s.Dir, "sub dir", "file 'x'")
	os.MkdirAll(filepath.Dir(target), 0o755)
	if err := m.WriteFile(ctx, target, data, 0o640); err != nil {
		t.Fatal(err)
	}
	got, err := m.ReadFile(ctx, target, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(data))
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after WriteFile: %v %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(target)); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	// A file one byte over the limit is refused, naming host, file and
	// limit.
	if _, err := m.ReadFile(ctx, target, int64(len(data))-1); !errors.Is(err, transport.ErrTooLarge) ||
		!strings.Contains(err.Error(), "sshd: reading "+target+": larger than the limit of 307199 bytes") {
		t.Errorf("reading %d bytes with a limit one less: %v", len(data), err)
	}
	if _, err := m.ReadFile(ctx, filepath.Join(s.Dir, "missing"), 1<<20); err == nil || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("reading a missing file: %v", err)
	}
	if err := m.WriteFile(ctx, filepath.Join(s.Dir, "no", "such", "dir"), data, 0o600); err == nil {
		t.Errorf("writing into a missing directory succeeded")
	}

	// The boot id is this machine's, since sshd runs here.
	id, err := m.BootID(ctx)
	local, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil || id != strings.ReplaceAll(strings.TrimSpace(string(local)), "-", "") {
		t.Errorf("boot id %q (%v), local %q", id, err, local)
	}

	// A host that offers a 1 GiB record costs the driver the limit, not
	// the file: the transfer is cut at the limit and the error names it.
	huge := filepath.Join(s.Dir, "run-huge.json")
	if f, err := os.Create(huge); err != nil {
		t.Fatal(err)
	} else {
		f.Truncate(1 << 30)
		f.Close()
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start = time.Now()
	_, err = m.ReadFile(ctx, huge, transport.Limits.Record)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, transport.ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("reading %s: larger than the limit of %d bytes", huge, transport.Limits.Record)) {
		t.Errorf("1 GiB file: %v", err)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 8*uint64(transport.Limits.Record) {
		t.Errorf("reading a 1 GiB file with a %d byte limit allocated %d bytes", transport.Limits.Record, grown)
	}
	t.Logf("1 GiB file refused in %s, %d bytes allocated", time.Since(start), after.TotalAlloc-before.TotalAlloc)
	// The same bound holds for a command's output.
	old := transport.Limits.Output
	transport.Limits.Output = 1 << 20
	res, err = m.Run(ctx, 30*time.Second, "head", "-c", "50000000", "/dev/zero")
	transport.Limits.Output = old
	if !errors.Is(err, transport.ErrTooLarge) || !strings.Contains(err.Error(), "sshd: output of head: larger than the limit of 1048576 bytes") || len(res.Stdout) > 1<<20 {
		t.Errorf("50 MB of output with a 1 MiB limit: %d bytes, %v", len(res.Stdout), err)
	}
	if res, err := m.Run(ctx, 10*time.Second, "true"); err != nil || res.ExitCode != 0 {
		t.Errorf("after an oversized output: %+v %v", res, err)
	}

	// A dropped connection is dialed again on the next call.
	m.Disconnect()
	if res, err := m.Run(ctx, 10*time.Second, "true"); err != nil || res.ExitCode != 0 {
		t.Errorf("after disconnect: %+v %v", res, err)
	}
}

func TestSSHRealSSHDChangedKey(t *testing.T) {
	s := outertest.StartSSHD(t)
	other := outertest.WriteKey(t, filepath.Join(s.Dir, "other"))
	os.WriteFile(s.KnownHosts, []byte(outertest.KnownHostsLine(s.Addr, other)+"\n"), 0o600)
	// Even accept-new never replaces a recorded key.
	m := sshdMachine(t, s, true)
	_, err := m.Run(context.Background(), 10*time.Second, "true")
	var hk *transport.HostKeyError
	if !errors.As(err, &hk) || len(hk.Known) != 1 || !strings.Contains(err.Error(), "CHANGED") {
		t.Fatalf("changed key: got %v", err)
	}
	if errors.Is(err, transport.ErrConnection) {
		t.Errorf("a changed key must not look like a rebooting host")
	}
}

func TestSSHRealSSHDWrongUserKey(t *testing.T) {
	s := outertest.StartSSHD(t)
	os.WriteFile(s.KnownHosts, []byte(outertest.KnownHostsLine(s.Addr, s.HostKey)+"\n"), 0o600)
	outertest.WriteKey(t, s.ClientKey) // a key that is not in authorized_keys
	m := sshdMachine(t, s, false)
	_, err := m.Run(context.Background(), 10*time.Second, "true")
	if err == nil || !strings.Contains(err.Error(), "authentication refused") || errors.Is(err, transport.ErrConnection) {
		t.Fatalf("wrong key: got %v", err)
	}
}

func TestSSHRefused(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	outertest.WriteKey(t, key)
	m, err := New(Config{Addr: fmt.Sprintf("127.0.0.1:%d", outertest.FreePort(t)), KeyFile: key, KnownHosts: filepath.Join(dir, "kh")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Run(context.Background(), 5*time.Second, "true")
	if !errors.Is(err, transport.ErrConnection) {
		t.Fatalf("closed port: %v, want transport.ErrConnection", err)
	}
}

func TestNewSSHValidation(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	outertest.WriteKey(t, key)
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{KeyFile: key, KnownHosts: "kh"}, "no address"},
		{Config{Addr: "host", KeyFile: key, KnownHosts: "kh"}, "missing port"},
		{Config{Addr: "h:22", KeyFile: key}, "no known_hosts"},
		{Config{Addr: "h:22", KnownHosts: "kh"}, "no key file and no agent"},
		{Config{Addr: "h:22", KeyFile: filepath.Join(dir, "nope"), KnownHosts: "kh"}, "no such file"},
	} {
		_, err := New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

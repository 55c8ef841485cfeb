package qemu

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

func needQEMU(t *testing.T) {
	t.Helper()
	testutil.NeedCommand(t, "qemu", "qemu-system-x86_64")
	testutil.NeedCommand(t, "qemu", "qemu-img")
	testutil.NeedCommand(t, "genisoimage", "genisoimage")
	testutil.NeedCommand(t, "openssh-client", "ssh-keygen")
}

// blankImage is a disk with nothing to boot: the firmware keeps looking,
// QEMU keeps running, which is all the lifecycle tests need.
func blankImage(t *testing.T) string {
	img := filepath.Join(t.TempDir(), "blank.raw")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "raw", img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return img
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func TestStartAndClose(t *testing.T) {
	needQEMU(t)
	img := blankImage(t)
	dir := t.TempDir()
	vm, err := Start(context.Background(), Config{Name: "lifecycle", Image: img, Dir: dir, Memory: 128, CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	pid := vm.cmd.Process.Pid
	if !alive(pid) {
		t.Fatal("QEMU is not running after Start")
	}
	// No private key reaches dir, which a CI system publishes with the
	// artifacts: the keys, the seed and the overlay are in a private
	// directory elsewhere.
	noSecrets(t, dir)
	secrets := filepath.Dir(vm.KeyFile())
	if fi, err := os.Lstat(secrets); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || strings.HasPrefix(secrets, dir) {
		t.Errorf("keys in %s (%v, %v), want a private 0700 directory outside %s", secrets, fi.Mode(), err, dir)
	}
	for _, n := range []string{"id_ed25519", "ssh_host_ed25519_key", "seed.iso", "overlay.qcow2"} {
		if _, err := os.Stat(filepath.Join(secrets, n)); err != nil {
			t.Errorf("private directory: %v", err)
		}
	}
	// The overlay is on top of the image, never the image itself.
	info, err := exec.Command("qemu-img", "info", "-U", filepath.Join(secrets, "overlay.qcow2")).Output()
	if err != nil || !strings.Contains(string(info), "backing file: "+img) {
		t.Errorf("overlay: %v\n%s", err, info)
	}
	// QEMU's user network listens on the forwarded loopback port.
	c, err := net.DialTimeout("tcp", vm.SSHAddr(), 5*time.Second)
	if err != nil {
		t.Errorf("forwarded port %s: %v", vm.SSHAddr(), err)
	} else {
		c.Close()
	}
	kh, _ := os.ReadFile(vm.KnownHosts())
	if !strings.HasPrefix(string(kh), "[127.0.0.1]:"+strings.TrimPrefix(vm.SSHAddr(), "127.0.0.1:")+" ssh-ed25519 ") {
		t.Errorf("known_hosts = %q", kh)
	}
	start := time.Now()
	if err := vm.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 16*time.Second {
		t.Errorf("Close took %v", d)
	}
	if alive(pid) {
		t.Errorf("QEMU pid %d still alive after Close", pid)
	}
	if _, err := os.Lstat(secrets); !os.IsNotExist(err) {
		t.Errorf("the private directory %s outlives the VM: %v", secrets, err)
	}
	select {
	case <-vm.Exited():
	default:
		t.Error("Exited not closed")
	}
	if err := vm.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// An interrupted driver cancels its context: the VM must go with it.
func TestContextStopsVM(t *testing.T) {
	needQEMU(t)
	ctx, cancel := context.WithCancel(context.Background())
	vm, err := Start(ctx, Config{Name: "interrupt", Image: blankImage(t), Dir: t.TempDir(), Memory: 128, CPUs: 1})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer vm.Close()
	cancel()
	select {
	case <-vm.Exited():
	case <-time.After(20 * time.Second):
		t.Fatal("QEMU still running 20s after the context was cancelled")
	}
}

// noSecrets fails when a file under dir holds a private key, in OpenSSH's
// PEM armour or in cloud-config's ssh_keys (ed25519_private).
func noSecrets(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
			return nil
		}
		for _, s := range []string{"PRIVATE KEY", "ed25519_private"} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds %q", p, s)
			}
		}
		return nil
	})
}

func TestStartErrors(t *testing.T) {
	needQEMU(t)
	_, err := Start(context.Background(), Config{Name: "x", Image: "/nonexistent/disk.img", Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/disk.img") {
		t.Errorf("missing image: %v", err)
	}
	_, err = Start(context.Background(), Config{Name: "x", Image: blankImage(t), Dir: t.TempDir(), Accel: "hvf"})
	if err == nil || !strings.Contains(err.Error(), `accel "hvf"`) {
		t.Errorf("bad accel: %v", err)
	}
	_, err = Start(context.Background(), Config{Name: "x", Image: blankImage(t), Dir: t.TempDir(), DiskCache: "fast"})
	if err == nil || !strings.Contains(err.Error(), `disk cache "fast"`) {
		t.Errorf("bad disk cache: %v", err)
	}
	// A QEMU that refuses its options is reported with its own words.
	_, err = Start(context.Background(), Config{Name: "x", Image: blankImage(t), Dir: t.TempDir(), Memory: 1 << 30})
	if err == nil || !strings.Contains(err.Error(), "exited at once") {
		t.Errorf("impossible memory size: %v", err)
	}
}

// A probe's answer is reused while QEMU and the host kernel are the same,
// so only the first run on a machine pays for the probe boot.
func TestProbeCache(t *testing.T) {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		if got := ProbeAccel(context.Background(), Config{Name: "p", Dir: t.TempDir()}); got != AccelTCG {
			t.Errorf("no /dev/kvm: probe says %s", got)
		}
		return
	}
	f.Close()
	// The cache directory must be private (readProbeCache refuses one
	// that group or others can read); t.TempDir's mode follows the umask.
	cacheDir := t.TempDir()
	if err := os.Chmod(cacheDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(cacheDir, "kvm-probe.json")
	b, _ := json.Marshal(probeResult{Key: "qemu-system-x86_64 " + kernelRelease(), Accel: AccelKVM})
	if err := os.WriteFile(cache, b, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got := ProbeAccel(context.Background(), Config{Name: "p", Dir: t.TempDir(), ProbeCache: cache}); got != AccelKVM {
		t.Errorf("cached answer kvm, probe says %s", got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a cached answer took %v: the probe ran", d)
	}
}

// The probe's verdict lives only in a directory private to this user and
// is never read or written through a link (issue: a fixed name under /tmp
// that anyone could plant).
func TestProbeCacheConfined(t *testing.T) {
	base := t.TempDir()
	cache := filepath.Join(base, "cache", "accel.json")
	want := probeResult{Key: "qemu 6.1", Accel: AccelKVM}
	if err := writeProbeCache(cache, want); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Dir(cache)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory made with %v (%v), want 0700", fi.Mode(), err)
	}
	if got, err := readProbeCache(cache); err != nil || got != want {
		t.Errorf("read back %+v, %v", got, err)
	}

	// A link planted where the cache file goes is not followed on read,
	// and a write replaces the link, not its target.
	elsewhere := filepath.Join(base, "elsewhere.json")
	os.WriteFile(elsewhere, []byte(`{"key":"qemu 6.1","accel":"kvm"}`), 0o600)
	linked := filepath.Join(base, "cache", "linked.json")
	os.Symlink(elsewhere, linked)
	if _, err := readProbeCache(linked); err == nil {
		t.Errorf("a cache file that is a link was read")
	}
	if err := writeProbeCache(linked, probeResult{Key: "k", Accel: AccelTCG}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(elsewhere); string(b) != `{"key":"qemu 6.1","accel":"kvm"}` {
		t.Errorf("the write went through the link: target now %s", b)
	}

	// A directory that is a link, or that others may write, is refused.
	os.Symlink(filepath.Join(base, "cache"), filepath.Join(base, "dirlink"))
	if _, err := readProbeCache(filepath.Join(base, "dirlink", "accel.json")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("cache directory through a link: %v", err)
	}
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o777)
	if err := writeProbeCache(filepath.Join(open, "accel.json"), want); err == nil || !strings.Contains(err.Error(), "want no access for group and others") {
		t.Errorf("world-writable cache directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(open, "accel.json")); err == nil {
		t.Errorf("the verdict was written into a world-writable directory")
	}
}

// TestPowerCutAndColdStart: PowerCut kills QEMU at once (no SIGTERM grace),
// keeps the disk, which qemu-img check finds sound, and ColdStart runs a
// new QEMU on the same disk and seed with the same SSH key; Close still
// stops it and removes the keys.
func TestPowerCutAndColdStart(t *testing.T) {
	needQEMU(t)
	vm, err := Start(context.Background(), Config{Name: "powercut", Image: blankImage(t), Dir: t.TempDir(), Memory: 128, CPUs: 1, DiskCache: "writeback"})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	if !slices.Contains(vm.cmd.Args, "file="+vm.overlay+",format=qcow2,if=virtio,cache=writeback,discard=unmap") {
		t.Errorf("QEMU's disk is not in cache mode writeback: %v", vm.cmd.Args)
	}
	if err := vm.ColdStart(context.Background()); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("ColdStart of a running VM: %v", err)
	}
	first := vm.cmd.Process.Pid
	start := time.Now()
	if err := vm.PowerCut(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("PowerCut took %v: not a cut", d)
	}
	if alive(first) {
		t.Errorf("QEMU pid %d alive after PowerCut", first)
	}
	if _, err := vm.CheckDisk(context.Background()); err != nil {
		t.Errorf("the disk after the cut: %v", err)
	}
	key := vm.KeyFile()
	if err := vm.ColdStart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if vm.cmd.Process.Pid == first || !alive(vm.cmd.Process.Pid) {
		t.Fatalf("no new QEMU after ColdStart (pid %d, was %d)", vm.cmd.Process.Pid, first)
	}
	if _, err := os.Stat(key); err != nil || vm.KeyFile() != key {
		t.Errorf("the key did not survive the cut: %v", err)
	}
	select {
	case <-vm.Exited():
		t.Fatal("Exited is closed for the cold-started QEMU")
	default:
	}
	pid := vm.cmd.Process.Pid
	if err := vm.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("QEMU pid %d alive after Close", pid)
	}
}

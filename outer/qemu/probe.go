package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// reachedInit matches the console lines a guest writes once the kernel
// handed over to systemd (or the initramfs's systemd) and a bit later.
var reachedInit = regexp.MustCompile(`systemd\[1\]|Welcome to|Reached target|login:`)

// probeTimeout bounds the KVM probe boot: under working KVM a Debian kernel
// reaches systemd in a few seconds; where KVM is broken (guests hang right
// after the kernel is unpacked, as on the CI machines) nothing more comes.
const probeTimeout = 40 * time.Second

type probeResult struct {
	Key   string `json:"key"`
	Accel string `json:"accel"`
	When  string `json:"when"`
}

// ProbeAccel decides between KVM and TCG: KVM only when /dev/kvm can be
// opened and a probe boot of cfg.Image under KVM reaches init. The answer
// is cached in cfg.ProbeCache (when set), keyed by the QEMU binary and the
// host kernel release, so the probe runs once per machine. The cache's
// directory must be private to this user (it is made 0700 when missing);
// a cache anywhere else, or reached through a link, is neither read nor
// written.
func ProbeAccel(ctx context.Context, cfg Config) string {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return AccelTCG
	}
	f.Close()
	qemu := cfg.QEMU
	if qemu == "" {
		qemu = "qemu-system-x86_64"
	}
	key := qemu + " " + kernelRelease()
	if cfg.ProbeCache != "" {
		if r, err := readProbeCache(cfg.ProbeCache); err == nil && r.Key == key && (r.Accel == AccelKVM || r.Accel == AccelTCG) {
			return r.Accel
		}
	}
	accel := AccelTCG
	dir, err := os.MkdirTemp(cfg.Dir, "kvm-probe-")
	if err == nil {
		defer os.RemoveAll(dir)
		pc := cfg
		pc.Name = cfg.Name + "-kvm-probe"
		pc.Dir = dir
		pc.ConsoleLog = filepath.Join(dir, "console.log")
		pc.Accel = AccelKVM
		pc.Memory = 1024
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		if vm, err := Start(pctx, pc); err == nil {
			if _, err := vm.WaitConsole(pctx, 0, reachedInit); err == nil {
				accel = AccelKVM
			}
			vm.Close()
		}
		cancel()
	}
	if ctx.Err() == nil && cfg.ProbeCache != "" {
		_ = writeProbeCache(cfg.ProbeCache, probeResult{Key: key, Accel: accel, When: time.Now().UTC().Format(time.RFC3339)})
	}
	return accel
}

// privateDir makes dir (0700, its parents too) unless it exists, and
// checks that it is a directory, not a link to one, owned by this user
// and writable by no one else: only then is a file in it ours.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("probe cache directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("probe cache directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("probe cache directory %s: not a directory (%s)", dir, fi.Mode().Type())
	case !ok || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("probe cache directory %s: not owned by uid %d", dir, os.Geteuid())
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("probe cache directory %s: mode %v, want no access for group and others", dir, fi.Mode().Perm())
	}
	return nil
}

// readProbeCache reads a verdict written by writeProbeCache: from a
// private directory, never through a symbolic link, a regular file of
// this user, at most 4 KiB.
func readProbeCache(path string) (probeResult, error) {
	var r probeResult
	if err := privateDir(filepath.Dir(path)); err != nil {
		return r, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return r, fmt.Errorf("probe cache: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return r, fmt.Errorf("probe cache: %w", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !fi.Mode().IsRegular() || !ok || int(st.Uid) != os.Geteuid() {
		return r, fmt.Errorf("probe cache %s: not a regular file of uid %d", path, os.Geteuid())
	}
	b, err := io.ReadAll(io.LimitReader(f, 4<<10))
	if err != nil {
		return r, fmt.Errorf("probe cache %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("probe cache %s: %w", path, err)
	}
	return r, nil
}

// writeProbeCache replaces path with r through a new temporary file in
// the same private directory (created exclusively, so a planted link is
// never written through) and a rename.
func writeProbeCache(path string, r probeResult) error {
	dir := filepath.Dir(path)
	if err := privateDir(dir); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("probe cache: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("probe cache %s: %w", path, err)
	}
	return nil
}

func kernelRelease() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

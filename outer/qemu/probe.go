package qemu

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
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
// host kernel release, so the probe runs once per machine.
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
		var r probeResult
		if b, err := os.ReadFile(cfg.ProbeCache); err == nil && json.Unmarshal(b, &r) == nil && r.Key == key {
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
		b, _ := json.Marshal(probeResult{Key: key, Accel: accel, When: time.Now().UTC().Format(time.RFC3339)})
		_ = os.WriteFile(cfg.ProbeCache, b, 0o644)
	}
	return accel
}

func kernelRelease() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BootGuest boots a guest from image as the driver's host name (with
// base's accelerator, provisioner, admin Ignition config and firmware):
// QEMU's log and the serial console under dir (name-console.log,
// name-vm/; its keys, seed and overlay stay in a private temporary
// directory), the KVM
// probe's verdict cached in the user's cache directory (kept private),
// and waits up to bound for its sshd, so the driver's first step finds it
// up. A guest whose sshd never answers is stopped and the error quotes
// the last console lines.
func BootGuest(ctx context.Context, dir, name, image string, base Config, bound time.Duration) (*Machine, error) {
	cfg := base
	if cache, err := os.UserCacheDir(); err == nil {
		cfg.ProbeCache = filepath.Join(cache, "atomic-selftest", "qemu-accel.json")
	}
	cfg.Name, cfg.Image, cfg.Dir, cfg.ConsoleLog = name, image, filepath.Join(dir, name+"-vm"), filepath.Join(dir, name+"-console.log")
	m, err := Boot(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := m.WaitBooted(ctx, bound); err != nil {
		m.Close()
		return nil, fmt.Errorf("the guest's sshd did not answer within %s: %w; console: %s", bound, err, strings.Join(m.Console(5), " | "))
	}
	return m, nil
}

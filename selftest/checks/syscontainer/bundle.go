package syscontainer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// probeUID is the user the probe runs as inside its container: nobody,
// so the probe holds no privilege even if the sandbox leaked.
const probeUID = 65534

// probeHostname is the UTS name the probe's container gets; the marker
// must report it, proving the container has its own UTS namespace.
const probeHostname = "atomic-selftest-probe"

// specVersion is the runtime-spec version written into config.json. Every
// field used here exists since 1.0.0; the runc that Fedora Atomic and
// Debian 12 ship (1.1.x) implements 1.0.2, so claim that rather than the
// newer version of the Go types.
const specVersion = "1.0.2"

// probeSpec returns the runtime configuration of the probe container
// (runtime-spec config.md, config-linux.md): read-only root, its own pid,
// mount, ipc, uts and network namespaces (a new network namespace has
// only loopback), an unprivileged user, no capabilities and no new
// privileges.
func probeSpec(args []string) *specs.Spec {
	none := []string{}
	return &specs.Spec{
		Version: specVersion,
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			User:            specs.User{UID: probeUID, GID: probeUID},
			Args:            args,
			Env:             []string{"PATH=/", "LC_ALL=C"},
			Cwd:             "/",
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: none, Effective: none, Inheritable: none, Permitted: none, Ambient: none,
			},
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Hostname: probeHostname,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
				"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
			},
			ReadonlyPaths: []string{
				"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
}

// writeSpec writes config.json into the bundle directory.
func writeSpec(bundle string, s *specs.Spec) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("writing the bundle's config.json: %w", err)
	}
	return nil
}

package probe

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// UID is the user the probe runs as inside its container: nobody,
// so the probe holds no privilege even if the sandbox leaked.
const UID = 65534

// Hostname is the UTS name the probe's container gets; the marker
// must report it, proving the container has its own UTS namespace.
const Hostname = "atomic-selftest-probe"

// specVersion is the runtime-spec version written into config.json. Every
// field used here exists since 1.0.0; the runc that Fedora Atomic and
// Debian 12 ship (1.1.x) implements 1.0.2, so claim that rather than the
// newer version of the Go types.
const specVersion = "1.0.2"

// Cgroup limits of the probe container (config-linux.md, "Control
// groups"). The probe is one static Go process whose threads are bounded
// by GOMAXPROCS (set to 2 in its environment): it needs about 10 tasks
// and under 10 MiB, so these leave room and stop a fork bomb or a leak.
const (
	PidsLimit   = 32
	MemoryLimit = 64 << 20
)

// probeSyscalls is the seccomp allow-list of the probe: what a static Go
// binary (Go's runtime, os, net.Interfaces over netlink) calls to start,
// inspect itself and write its marker, found with strace -f of
// `atomic-selftest probe` and the Go runtime's sources (thread creation,
// signals for preemption, the netpoller). Names missing on one
// architecture (arch_prctl, epoll_wait on aarch64) are skipped by runc.
// execve is the exec of the probe itself: runc loads the filter just
// before it when no new privileges are allowed.
var probeSyscalls = []string{
	// process and threads
	"execve", "arch_prctl", "clone", "exit", "exit_group", "gettid", "getpid", "tgkill",
	"futex", "sched_yield", "sched_getaffinity", "nanosleep", "clock_gettime", "getrandom",
	"prlimit64", "uname", "prctl",
	// memory
	"mmap", "munmap", "mprotect", "madvise",
	// signals
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	// files and the poller
	"openat", "read", "pread64", "write", "close", "fcntl", "fstat", "newfstatat", "lseek",
	"readlinkat", "getdents64", "ioctl", "unlinkat", "fstatfs", "statfs",
	"epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_wait", "eventfd2", "pipe2",
	// identity
	"getuid", "geteuid", "getgid", "getegid",
	// net.Interfaces over a netlink socket (socket itself is allowed
	// for AF_NETLINK only, below)
	"bind", "sendto", "recvfrom", "getsockname",
}

// afNetlink is AF_NETLINK (linux/socket.h).
const afNetlink = 16

// probeSeccomp is the probe's seccomp filter (config-linux.md,
// "Seccomp"): every system call not on the list fails with ENOSYS, as on
// a kernel without it, so Go's fallbacks apply rather than a crash; the
// filter covers x86_64 and aarch64, the architectures of the hosts.
func probeSeccomp() *specs.LinuxSeccomp {
	enosys := uint(syscall.ENOSYS)
	return &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &enosys,
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64},
		Syscalls: []specs.LinuxSyscall{
			{Names: probeSyscalls, Action: specs.ActAllow},
			{Names: []string{"socket"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: afNetlink, Op: specs.OpEqualTo}}},
		},
	}
}

// RuncSpec returns the runtime configuration of the probe container
// (runtime-spec config.md, config-linux.md): read-only root, its own pid,
// mount, ipc, uts and network namespaces (a new network namespace has
// only loopback), an unprivileged user, no capabilities, no new
// privileges, a seccomp allow-list (probeSeccomp) and pids and memory
// limits.
func RuncSpec(args []string) *specs.Spec {
	none := []string{}
	pids := int64(PidsLimit)
	memory := int64(MemoryLimit)
	return &specs.Spec{
		Version: specVersion,
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			User:            specs.User{UID: UID, GID: UID},
			Args:            args,
			Env:             []string{"PATH=/", "LC_ALL=C", "GOMAXPROCS=2"},
			Cwd:             "/",
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding: none, Effective: none, Inheritable: none, Permitted: none, Ambient: none,
			},
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Hostname: Hostname,
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
			Seccomp: probeSeccomp(),
			Resources: &specs.LinuxResources{
				Pids:   &specs.LinuxPids{Limit: &pids},
				Memory: &specs.LinuxMemory{Limit: &memory},
			},
		},
	}
}

// WriteRuncSpec writes config.json into the bundle directory.
func WriteRuncSpec(bundle string, s *specs.Spec) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("writing the bundle's config.json: %w", err)
	}
	return nil
}

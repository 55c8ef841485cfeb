package rootfs

import "fmt"

// Kind is a kind of host file; it decides how much of one is read. This
// table is the one place a read limit of host or image data is set: a
// file over its limit is an error naming the file and the limit, never a
// bigger allocation.
type Kind int

const (
	// Config is a configuration file: daemon.json, sysconfig environment
	// files, an ostree repo config, cloud.cfg.
	Config Kind = iota
	// UnitFile is a systemd unit file or drop-in.
	UnitFile
	// BootConfig is a Boot Loader Specification entry or a boot loader's
	// own configuration (syslinux.cfg, grub.cfg).
	BootConfig
	// Origin is a deployment's .origin key file.
	Origin
	// State is a state record a tool left: cloud-init's JSON and YAML,
	// ostree's staged-deployment and /run/ostree-booted.
	State
	// Container is a system container's info file or config.json, or
	// runc's state.json: the atomic CLI and runc write a few kilobytes.
	Container
	// Object is an ostree metadata object (a commit).
	Object
	// Kernel is a file the kernel serves under /proc.
	Kernel
	// LogTail is the end of a log file; a log is read from its tail, so
	// a longer one is not an error.
	LogTail
	// Directory is a directory listing; its limit counts entries.
	Directory
	nKinds
)

// limits is the limit table: per kind, the most that is read and the
// words an error uses for the kind.
var limits = [nKinds]struct {
	max  int64
	name string
}{
	Config:     {1 << 20, "configuration files"},
	UnitFile:   {1 << 20, "unit files"},
	BootConfig: {1 << 20, "boot loader configuration"},
	Origin:     {1 << 20, "origin files"},
	State:      {8 << 20, "state records"},
	Container:  {1 << 20, "container records"},
	// Decoding a commit may take up to 16 times its size in memory
	// (selftest/ostree's maxExpansion), so this bounds that too. Real
	// commits are far smaller: a few hundred bytes for plain ostree, a
	// few hundred KB with rpm-ostree's package list.
	Object:    {16 << 20, "ostree metadata objects"},
	Kernel:    {4 << 20, "kernel files"},
	LogTail:   {4 << 20, "log tails"},
	Directory: {100000, "directory listings"},
}

// Limit is the most read of a file of kind k (bytes), or the most
// entries of a directory listing.
func Limit(k Kind) int64 { return limits[k].max }

// String names the kind the way an error does ("configuration files").
func (k Kind) String() string {
	if k < 0 || k >= nKinds {
		return fmt.Sprintf("kind %d", int(k))
	}
	return limits[k].name
}

// limitText is the limit of k in words: "1 MiB", "100000 entries".
func limitText(k Kind) string {
	n := Limit(k)
	switch {
	case k == Directory:
		return fmt.Sprintf("%d entries", n)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Package outer is the outer driver: it takes hosts through upgrade,
// rollback, deploy and layering reboots and collects what each boot's
// self-test recorded. It never imports the host side's check packages;
// it reads the run record and writes the expectation as data.
package outer

import (
	"context"
	"time"
)

// Machine is one host the driver talks to, over any transport (SSH, a
// local QEMU guest reached over SSH with its console captured).
// Implementations must be safe for use by one goroutine at a time.
//
// Errors: one that wraps ErrConnection means the host could not be
// reached or the connection was lost; while the driver waits for a
// reboot it means "still rebooting", otherwise the host is unusable. A
// *HostKeyError ends every wait at once. Any other error is the
// operation's own failure.
type Machine interface {
	// Name is the host's name in reports.
	Name() string
	// Run runs argv on the host without a shell in between (each argument
	// arrives as given) and returns its output and exit status. The
	// context and timeout both bound it. err is non-nil only when the
	// command could not be run or finished (connection lost, timeout).
	Run(ctx context.Context, timeout time.Duration, argv ...string) (res RunResult, err error)
	// ReadFile returns a file's contents from the host.
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// WriteFile writes a file on the host (atomically where it can).
	WriteFile(ctx context.Context, path string, data []byte, mode uint32) error
	// Reboot asks the host to reboot. A connection dropped by the reboot is
	// not an error; the caller waits for a new boot id.
	Reboot(ctx context.Context) error
	// BootID returns /proc/sys/kernel/random/boot_id without dashes.
	BootID(ctx context.Context) (string, error)
	// Console returns the last n lines of the host's console, or nil when
	// the transport has none.
	Console(n int) []string
	// Close releases the connection (and stops a VM the transport started).
	Close() error
}

// RunResult is a finished remote command.
type RunResult struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

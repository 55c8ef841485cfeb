// Package transport is the contract between the outer driver and the
// transports that reach a host (outer/ssh, outer/qemu): the Machine
// interface, the result of a remote command, the errors a transport must
// use so the driver can tell "rebooting" from "broken", and the bounds on
// what the driver reads from a host.
package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Machine is one host the driver talks to, over any transport (SSH, a
// local QEMU guest reached over SSH with its console captured).
// Implementations must be safe for use by one goroutine at a time.
//
// Errors: one that wraps ErrConnection means the host could not be
// reached or the connection was lost; while the driver waits for a
// reboot it means "still rebooting", otherwise the host is unusable. A
// *HostKeyError ends every wait at once. One that wraps ErrTooLarge means
// the host sent more than the caller's limit. Any other error is the
// operation's own failure.
type Machine interface {
	// Name is the host's name in reports.
	Name() string
	// Run runs argv on the host without a shell in between (each argument
	// arrives as given) and returns its output and exit status. The
	// context and timeout both bound it. err is non-nil only when the
	// command could not be run or finished (connection lost, timeout, an
	// output larger than the transport's limit).
	Run(ctx context.Context, timeout time.Duration, argv ...string) (res RunResult, err error)
	// ReadFile returns a file's contents from the host; a file larger than
	// limit bytes is an error wrapping ErrTooLarge, and no more than about
	// limit bytes are ever held in memory.
	ReadFile(ctx context.Context, path string, limit int64) ([]byte, error)
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

// ErrConnection marks errors where the connection could not be made or was
// lost (refused, reset, handshake cut short, timeout while dialing): what a
// rebooting host looks like from outside.
var ErrConnection = errors.New("connection to host failed")

// ErrTooLarge marks a file or command output from a host that exceeded the
// limit the driver set for it.
var ErrTooLarge = errors.New("larger than the limit")

// HostKeyError is a host key that does not match known_hosts. It is never
// "still rebooting": a reboot wait stops on it at once.
type HostKeyError struct {
	Host        string
	Fingerprint string
	// Known is where the recorded keys are (file:line); empty when the
	// host has no entry at all.
	Known []string
	File  string
	// Hint is what the operator can do about a new key, in the words of
	// the program that drives the transport (its option to trust new
	// keys); a generic sentence when empty.
	Hint string
}

func (e *HostKeyError) Error() string {
	if len(e.Known) == 0 {
		hint := e.Hint
		if hint == "" {
			hint = "trust new host keys on first contact"
		}
		return fmt.Sprintf("host key of %s (%s) is not in %s; check it and add it, or %s",
			e.Host, e.Fingerprint, e.File, hint)
	}
	return fmt.Sprintf("host key of %s CHANGED: it offered %s but %s records another key (at %s); if the host was reinstalled, remove the old line",
		e.Host, e.Fingerprint, e.File, strings.Join(e.Known, ", "))
}

// ReadBootID reads the kernel's boot id through any Machine.
func ReadBootID(ctx context.Context, m Machine) (string, error) {
	data, err := m.ReadFile(ctx, "/proc/sys/kernel/random/boot_id", Limits.BootID)
	if err != nil {
		return "", err
	}
	id := strings.ReplaceAll(strings.TrimSpace(string(data)), "-", "")
	if len(id) != 32 {
		return "", fmt.Errorf("%s: boot id %q is not 32 hex digits", m.Name(), id)
	}
	return id, nil
}

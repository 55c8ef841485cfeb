package selftest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Host is the machine the checks look at: a root prefix for files, a
// command runner, its boot id and a lazily opened systemd connection.
// What belongs to one run of the checks (the configuration, the history,
// the tool's version) is the RunContext's.
type Host struct {
	// Root is "/" on a live host, or the directory given with --sysroot.
	Root string
	// Offline is true with --sysroot: only checks marked Offline run, and
	// nothing of the running system (systemd, daemons, /proc) is asked.
	Offline bool
	// Commands runs external programs; tests may replace it.
	Commands Commander
	// BootID is this boot's id (/proc/sys/kernel/random/boot_id); empty
	// offline.
	BootID string

	systemdOnce sync.Once
	systemd     Systemd
	systemdErr  error
	// NewSystemd opens the systemd probe; nil means the D-Bus one.
	NewSystemd func(ctx context.Context) (Systemd, error)
}

// NewHost returns a host rooted at root ("/" for the live system).
func NewHost(root string) *Host {
	if root == "" {
		root = "/"
	}
	return &Host{
		Root:     root,
		Offline:  filepath.Clean(root) != "/",
		Commands: ExecCommander{},
	}
}

// Path joins p (an absolute path on the host) onto the root prefix,
// lexically: links in it are not resolved inside the root. Checks read
// files through ReadFile, Stat, ReadDir and the other methods of
// hostfiles.go; Path is only for a path handed to an external command
// (ostree --repo, rpm --dbpath) or a syscall that takes no file
// descriptor (statfs), and such a use says why in a comment.
func (h *Host) Path(p string) string {
	if h.Root == "" || h.Root == "/" {
		return filepath.Clean("/" + p)
	}
	return filepath.Join(h.Root, filepath.Clean("/"+p))
}

// SystemdBooted reports whether the host runs systemd as PID 1, the way
// sd_booted(3) decides: /run/systemd/system exists. It is false offline.
func (h *Host) SystemdBooted() bool {
	if h.Offline {
		return false
	}
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// Systemd returns the systemd probe, opening it on first use. The
// connection is shared by all checks and closed by Close.
func (h *Host) Systemd(ctx context.Context) (Systemd, error) {
	h.systemdOnce.Do(func() {
		if h.Offline {
			h.systemdErr = errors.New("systemd is not asked in --sysroot mode")
			return
		}
		open := h.NewSystemd
		if open == nil {
			open = openDBusSystemd
		}
		h.systemd, h.systemdErr = open(ctx)
	})
	return h.systemd, h.systemdErr
}

// Close releases the systemd connection if one was opened.
func (h *Host) Close() {
	if h.systemd != nil {
		h.systemd.Close()
	}
}

// Run runs argv with a timeout and returns its standard output. On failure
// the error carries the exit status and the last line of standard error.
func (h *Host) Run(ctx context.Context, timeout time.Duration, argv ...string) ([]byte, error) {
	out, _, err := h.Commands.Command(ctx, timeout, argv...)
	return out, err
}

// Commander runs external programs by argv, never through a shell.
type Commander interface {
	// Command runs argv[0] with argv[1:] and returns standard output and
	// standard error. It kills the process when ctx ends or timeout passes
	// and returns an error saying which. A non-zero exit is an *ExitError.
	Command(ctx context.Context, timeout time.Duration, argv ...string) (stdout, stderr []byte, err error)
}

// ExecCommander runs programs with os/exec.
type ExecCommander struct{}

// ExitError is a command that ran and exited non-zero.
type ExitError struct {
	Argv   []string
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with status %d", strings.Join(e.Argv, " "), e.Code)
	if s := lastLine(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	const max = 300
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// Command implements Commander.
func (ExecCommander) Command(ctx context.Context, timeout time.Duration, argv ...string) ([]byte, []byte, error) {
	if len(argv) == 0 {
		return nil, nil, errors.New("empty command")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// Bound the wait for pipes held open by grandchildren after a kill.
	cmd.WaitDelay = 2 * time.Second
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	err := cmd.Run()
	if err != nil {
		if cctx.Err() != nil && ctx.Err() == nil {
			return stdout.Bytes(), stderr.Bytes(), fmt.Errorf("%s: timed out after %s", strings.Join(argv, " "), timeout)
		}
		if ctx.Err() != nil {
			return stdout.Bytes(), stderr.Bytes(), fmt.Errorf("%s: %w", strings.Join(argv, " "), ctx.Err())
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stdout.Bytes(), stderr.Bytes(), &ExitError{Argv: argv, Code: ee.ExitCode(), Stderr: stderr.String()}
		}
		return stdout.Bytes(), stderr.Bytes(), fmt.Errorf("running %s: %w", argv[0], err)
	}
	return stdout.Bytes(), stderr.Bytes(), nil
}

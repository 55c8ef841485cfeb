package site

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TailCap is how much of a script's output (standard output and error,
// interleaved as written) is kept: the last TailCap bytes. Everything
// before is read and dropped, so a script printing a gigabyte costs time,
// not memory.
const TailCap = 8 << 10

// Path is the PATH a site check runs with: the system's directories
// only, never the caller's.
const Path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// settle bounds how long Exec waits, after the script ended, for the
// processes it left to die and for its output pipe to close.
const settle = 2 * time.Second

// Spec is one run of a script.
type Spec struct {
	// Argv is run directly, never through a shell; Argv[0] is a path.
	Argv []string
	// Env is the whole environment (Environ makes it).
	Env []string
	// Timeout bounds the run; at it the script's process group is killed.
	Timeout time.Duration
}

// Environ is the environment of a site check: a fixed PATH and the run's
// trigger, boot id and results directory.
func Environ(trigger, bootID, resultsDir string) []string {
	return []string{
		"PATH=" + Path,
		"LC_ALL=C",
		"ATOMIC_SELFTEST_TRIGGER=" + trigger,
		"ATOMIC_SELFTEST_BOOT_ID=" + bootID,
		"ATOMIC_SELFTEST_RESULTS_DIR=" + resultsDir,
	}
}

// Outcome is what one run of a script did.
type Outcome struct {
	// Code is the exit status, or -1 when it was killed by Signal.
	Code   int
	Signal string
	// TimedOut is true when Exec killed it at Spec.Timeout; Interrupted
	// when the caller's context ended first.
	TimedOut    bool
	Interrupted bool
	// Tail is the last TailCap bytes of its output; Total how many it
	// wrote in all.
	Tail  []byte
	Total int64
	// Left are the processes of its group still alive when it exited
	// ("sleep (pid 1234)"); Exec killed them.
	Left []string
	// PipeHeld is true when a process outside its group (one that left it
	// with setsid) still held its output open after it ended.
	PipeHeld bool
	// Err is set when it could not be started.
	Err error
}

// Exec runs s in a process group of its own (its pid is the group's id),
// with standard input /dev/null, its output into one pipe of which the
// tail is kept, and the working directory /. At s.Timeout, or when ctx
// ends, the whole group is killed (SIGKILL to -pgid). When the script
// exits, any process still in its group (a daemon it forked and did not
// wait for) is killed as well and named in Left.
func Exec(ctx context.Context, s Spec) Outcome {
	if len(s.Argv) == 0 {
		return Outcome{Code: -1, Err: errors.New("empty command")}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return Outcome{Code: -1, Err: fmt.Errorf("making the output pipe: %w", err)}
	}
	defer pr.Close()
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env = s.Env
	cmd.Dir = "/"
	// Stdin nil is /dev/null (os/exec); the output is one *os.File, so
	// Wait returns when the script exits, not when the last holder of
	// the pipe lets go.
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return Outcome{Code: -1, Err: fmt.Errorf("starting %s: %w", s.Argv[0], err)}
	}
	pgid := cmd.Process.Pid
	tail := &Tail{Cap: TailCap}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(tail, pr)
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	var o Outcome
	if s.Timeout <= 0 {
		// Never unbounded: the configuration refuses a zero timeout, and
		// a caller that passes none gets the checks' default.
		s.Timeout = time.Minute
	}
	timer := time.NewTimer(s.Timeout)
	defer timer.Stop()
	select {
	case err = <-waited:
	case <-timer.C:
		o.TimedOut = true
		_ = unix.Kill(-pgid, unix.SIGKILL)
		err = <-waited
	case <-ctx.Done():
		o.Interrupted = true
		_ = unix.Kill(-pgid, unix.SIGKILL)
		err = <-waited
	}
	// What is still in the group was forked and left behind.
	if !o.TimedOut && !o.Interrupted {
		o.Left = groupMembers(pgid)
	}
	if unix.Kill(-pgid, 0) == nil {
		_ = unix.Kill(-pgid, unix.SIGKILL)
		waitGone(pgid)
	}
	select {
	case <-copied:
	case <-time.After(settle):
		// A process that left the group still holds the pipe: stop
		// reading; the check says so.
		o.PipeHeld = true
		pr.Close()
		<-copied
	}
	o.Tail, o.Total = tail.Bytes(), tail.Total
	o.Code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		o.Signal = unix.SignalName(ws.Signal())
		if o.Signal == "" {
			o.Signal = "signal " + strconv.Itoa(int(ws.Signal()))
		}
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		o.Err = err
	}
	return o
}

// waitGone waits, bounded by settle, until no process is left in group
// pgid (the killed ones are reaped by their new parent).
func waitGone(pgid int) {
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) {
		if len(groupMembers(pgid)) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupMembers names the live (not zombie) processes of group pgid, from
// /proc/PID/stat (proc(5): field 3 the state, field 5 the group). This is
// the tool's own children, so it reads the real /proc, not the host's
// root.
func groupMembers(pgid int) []string {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold anything: the
		// fields start after the last ')'.
		st := string(b)
		open, end := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(st[end+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			out = append(out, fmt.Sprintf("%s (pid %d)", st[open+1:end], pid))
		}
	}
	return out
}

// Tail is an io.Writer that keeps the last Cap bytes written and counts
// them all.
type Tail struct {
	Cap   int
	Total int64
	buf   []byte
}

// Write implements io.Writer; it never fails.
func (t *Tail) Write(p []byte) (int, error) {
	t.Total += int64(len(p))
	n := len(p)
	if len(p) >= t.Cap {
		t.buf = append(t.buf[:0], p[len(p)-t.Cap:]...)
		return n, nil
	}
	if len(t.buf)+len(p) > 2*t.Cap {
		// Keep the buffer within twice the cap: shift the last Cap bytes
		// to the front (amortised, as each byte is moved at most once).
		keep := t.buf[len(t.buf)-t.Cap:]
		t.buf = append(t.buf[:0], keep...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// Bytes returns the kept tail (at most Cap bytes).
func (t *Tail) Bytes() []byte {
	if len(t.buf) > t.Cap {
		return t.buf[len(t.buf)-t.Cap:]
	}
	return t.buf
}

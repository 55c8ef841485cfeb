package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// ErrWaitTimeout: WaitBootRun's bound passed before the boot's run record
// was saved. The error WaitBootRun returns then matches it (errors.Is)
// and says which boot, directory and bound.
var ErrWaitTimeout = errors.New("no run saved within the bound")

type waitTimeout struct{ msg string }

func (e *waitTimeout) Error() string        { return e.msg }
func (e *waitTimeout) Is(target error) bool { return target == ErrWaitTimeout }

// WaitBootRun blocks until the store holds the run record that the boot
// boot (32 hex digits) itself triggered (atomic-selftest.service at
// boot, or atomic-selftest-deadline.service at its deadline: BootRun),
// or bound passes: then the error wraps ErrWaitTimeout and names
// the boot, the directory and the bound.
//
// It watches the directory with inotify (a record is saved by a rename
// into it, which is IN_MOVED_TO) and looks again after each batch of
// events; the watch is set before the first look, so a record saved in
// between is not missed. It sleeps in poll(2) on the inotify descriptor
// and on an eventfd that the end of ctx writes to, so neither a record
// nor the bound nor a signal waits for a polling interval. A directory
// that does not exist yet (no run has ever been saved) is looked for once
// a second.
func (s *Store) WaitBootRun(ctx context.Context, boot string, bound time.Duration) (*record.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	defer unix.Close(fd)
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	defer unix.Close(wake)
	stop := context.AfterFunc(ctx, func() { unix.Write(wake, []byte{1, 0, 0, 0, 0, 0, 0, 0}) })
	defer stop()
	watching := false
	look := true // whether the directory may hold the record now
	buf := make([]byte, 64<<10)
	for {
		if !watching {
			_, err := unix.InotifyAddWatch(fd, s.Dir, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_ONLYDIR)
			switch {
			case err == nil:
				watching, look = true, true
			case !errors.Is(err, unix.ENOENT):
				return nil, fmt.Errorf("watching %s: %w", s.Dir, err)
			}
		}
		if watching && look {
			if rec, err := s.BootRun(boot); err != nil || rec != nil {
				return rec, err
			}
		}
		// Sleep until inotify has events or ctx ends (its deadline, or
		// SIGTERM); while the directory is missing, look once a second.
		wait := -1
		if !watching {
			wait = 1000
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, wait); err != nil && !errors.Is(err, unix.EINTR) {
			return nil, fmt.Errorf("waiting on %s: %w", s.Dir, err)
		}
		// Only the boot's own record can end the wait: a save's
		// temporary file, other boots' records and the state files do
		// not cost a look.
		look = false
		for {
			n, err := unix.Read(fd, buf)
			if err != nil || n <= 0 {
				break // EAGAIN: drained
			}
			l, gone := relevant(buf[:n], boot)
			look = look || l
			if gone {
				watching = false
			}
		}
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// One last look: the record may have come with the deadline.
				if rec, err := s.BootRun(boot); err != nil || rec != nil {
					return rec, err
				}
				return nil, &waitTimeout{fmt.Sprintf("no run of boot %s saved in %s within %s", boot, s.Dir, bound)}
			}
			return nil, ctx.Err()
		}
	}
}

// BootRun returns the newest run record that judged the boot boot as a
// whole (record.JudgesBoot: its boot run, or the deadline run that stood
// in for a boot run that never started), or nil when there is none (or
// no directory yet).
func (s *Store) BootRun(boot string) (*record.Record, error) {
	if _, err := os.Stat(s.Dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	runs, _, err := s.Runs(Filter{BootID: boot})
	if err != nil {
		return nil, err
	}
	for i := len(runs) - 1; i >= 0; i-- {
		if runs[i].BootID == boot && record.JudgesBoot(runs[i].Trigger) {
			return runs[i], nil
		}
	}
	return nil, nil
}

// relevant reads a batch of inotify events: look is whether one of them
// may be the boot's run record arriving (a run record file name of that
// boot, or an overflowed queue that lost names), gone whether the
// directory's watch ended (removed or unmounted: watch it again).
func relevant(buf []byte, boot string) (look, gone bool) {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			return true, gone
		}
		name := string(bytes.TrimRight(buf[unix.SizeofInotifyEvent:end], "\x00"))
		buf = buf[end:]
		switch {
		case ev.Mask&unix.IN_Q_OVERFLOW != 0:
			look = true
		case ev.Mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
			gone = true
		case strings.HasPrefix(name, runPrefix) && strings.HasSuffix(name, ".json") && nameMayBeOfBoot(name, boot):
			look = true
		}
	}
	return look, gone
}

package site

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

// script writes an executable shell script into a temporary directory.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "check")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, body string, timeout time.Duration) Outcome {
	t.Helper()
	testutil.NeedCommand(t, "sh", "sh")
	return Exec(context.Background(), Spec{Argv: []string{script(t, body)}, Env: Environ("boot", "b00t", "/var/lib/atomic-selftest"), Timeout: timeout})
}

// pgrepNone fails when a process whose command line holds marker is
// still alive.
func pgrepNone(t *testing.T, marker string) {
	t.Helper()
	pgrep := testutil.NeedCommand(t, "procps", "pgrep")
	out, err := exec.Command(pgrep, "-f", marker).Output()
	if err == nil {
		t.Errorf("processes left behind matching %q: %s", marker, out)
	}
}

// Exit codes and the environment: 0, 77 and 3 are what the script said;
// the environment is the fixed one, and standard input is /dev/null.
func TestExecExitAndEnvironment(t *testing.T) {
	o := run(t, `echo "trigger=$ATOMIC_SELFTEST_TRIGGER boot=$ATOMIC_SELFTEST_BOOT_ID dir=$ATOMIC_SELFTEST_RESULTS_DIR path=$PATH home=${HOME:-unset}"; cat; exit 0`, 10*time.Second)
	want := "trigger=boot boot=b00t dir=/var/lib/atomic-selftest path=" + Path + " home=unset\n"
	if o.Code != 0 || string(o.Tail) != want || o.Err != nil {
		t.Fatalf("got code %d tail %q err %v, want 0 and %q", o.Code, o.Tail, o.Err, want)
	}
	if o := run(t, "exit 77", 10*time.Second); o.Code != 77 {
		t.Errorf("exit 77: got code %d", o.Code)
	}
	if o := run(t, "echo broken >&2; exit 3", 10*time.Second); o.Code != 3 || string(o.Tail) != "broken\n" {
		t.Errorf("exit 3: got code %d tail %q", o.Code, o.Tail)
	}
}

// A script that kills itself is reported with the signal's name.
func TestExecSignal(t *testing.T) {
	o := run(t, "kill -TERM $$; sleep 5", 10*time.Second)
	if o.Signal != "SIGTERM" || o.Code != -1 {
		t.Fatalf("got signal %q code %d, want SIGTERM", o.Signal, o.Code)
	}
}

// A script that hangs, with a child that hangs too, is killed with its
// whole process group at the timeout.
func TestExecHangKillsTheGroup(t *testing.T) {
	start := time.Now()
	o := run(t, "sleep 31001 & sleep 31002", 500*time.Millisecond)
	if !o.TimedOut || o.Signal != "SIGKILL" {
		t.Fatalf("got timed out %v signal %q, want a timeout and SIGKILL", o.TimedOut, o.Signal)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
	pgrepNone(t, "sleep 3100[12]")
}

// A script that forks a daemon and exits: the daemon is named and killed.
func TestExecDaemonIsCleanedUp(t *testing.T) {
	o := run(t, "sleep 31003 >/dev/null 2>&1 &\necho started", 10*time.Second)
	// On a loaded machine the forked shell may not have become sleep yet
	// when the group is looked at: it is then named by the script's name.
	if o.Code != 0 || len(o.Left) != 1 || !strings.HasPrefix(o.Left[0], "sleep (pid ") && !strings.HasPrefix(o.Left[0], "check (pid ") {
		t.Fatalf("got code %d left %q, want 0 and the sleep", o.Code, o.Left)
	}
	pgrepNone(t, "sleep 31003")
}

// A daemon that keeps the output pipe open does not hold the run.
func TestExecDaemonHoldingThePipe(t *testing.T) {
	start := time.Now()
	o := run(t, "sleep 31004 &\necho started", 10*time.Second)
	if len(o.Left) != 1 || string(o.Tail) != "started\n" {
		t.Fatalf("got left %q tail %q", o.Left, o.Tail)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("took %s", d)
	}
	pgrepNone(t, "sleep 31004")
}

// A script that prints a gigabyte: all of it is read, the tail kept.
func TestExecFloodIsBounded(t *testing.T) {
	o := run(t, "head -c 1073741824 /dev/zero; echo; echo the end", 5*time.Minute)
	if o.Code != 0 || o.Total != 1<<30+9 {
		t.Fatalf("got code %d total %d, want 0 and %d", o.Code, o.Total, 1<<30+9)
	}
	if len(o.Tail) != TailCap || !bytes.HasSuffix(o.Tail, []byte("\x00\nthe end\n")) {
		t.Fatalf("tail: %d bytes ending %q", len(o.Tail), o.Tail[max(0, len(o.Tail)-20):])
	}
}

// The tail keeps the last Cap bytes whatever the sizes of the writes.
func TestTail(t *testing.T) {
	var all []byte
	tl := &Tail{Cap: 10}
	for i, n := range []int{3, 9, 1, 25, 4, 10, 2} {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		all = append(all, p...)
		_, _ = tl.Write(p)
		want := all[max(0, len(all)-10):]
		if !bytes.Equal(tl.Bytes(), want) || tl.Total != int64(len(all)) {
			t.Fatalf("after %d writes: %q (%d), want %q (%d)", i+1, tl.Bytes(), tl.Total, want, len(all))
		}
	}
}

package qemu

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

func newTestConsole(t *testing.T) *console {
	f, err := os.Create(filepath.Join(t.TempDir(), "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	return newConsole(f)
}

// getty writes "host login: " without a newline and systemd colours its
// status lines; both must still match.
func TestConsolePromptAndEscapes(t *testing.T) {
	c := newTestConsole(t)
	c.add("[  \x1b[0;32mOK  \x1b[0m] Reached target \x1b[0;1;39mMulti-User System\x1b[0m.\r\n")
	c.add("\r\ntestbed login: ")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l, err := c.wait(ctx, 0, regexp.MustCompile(`Reached target Multi-User System\.$`), nil)
	if err != nil {
		t.Fatalf("coloured line: %v (lines %q)", err, c.last(5))
	}
	if strings.Contains(l, "\x1b") || strings.Contains(l, "\r") {
		t.Errorf("escapes kept: %q", l)
	}
	if l, err := c.wait(ctx, 0, regexp.MustCompile(`login:$`), nil); err != nil || l != "testbed login:" {
		t.Errorf("prompt: %q %v", l, err)
	}
	if got := c.last(1); len(got) != 1 || got[0] != "testbed login:" {
		t.Errorf("last(1) = %q", got)
	}
}

// A mark hides what came before it, so a second boot's prompt is not
// mistaken for the first one's.
func TestConsoleWaitAfterMark(t *testing.T) {
	c := newTestConsole(t)
	c.add("first boot\nhost login: \n")
	mark := c.mark()
	done := make(chan string)
	go func() {
		l, _ := c.wait(context.Background(), mark, regexp.MustCompile(`login:`), nil)
		done <- l
	}()
	select {
	case l := <-done:
		t.Fatalf("matched an old line %q", l)
	case <-time.After(100 * time.Millisecond):
	}
	c.add("reboot\nsecond login: ")
	select {
	case l := <-done:
		if l != "second login:" {
			t.Errorf("got %q", l)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("new prompt not seen")
	}
	c.close()
	if _, err := c.wait(context.Background(), c.mark(), regexp.MustCompile(`never`), nil); err == nil {
		t.Error("wait on a closed console did not fail")
	}
}

func TestConsoleKeepsLastLines(t *testing.T) {
	c := newTestConsole(t)
	var b strings.Builder
	for i := 0; i < transport.Limits.ConsoleLines+10; i++ {
		b.WriteString("line\n")
	}
	c.add(b.String())
	c.add("tail\n")
	if c.mark() != transport.Limits.ConsoleLines+11 || len(c.lines) != transport.Limits.ConsoleLines {
		t.Errorf("mark %d, kept %d", c.mark(), len(c.lines))
	}
	if got := c.last(2); got[1] != "tail" {
		t.Errorf("last = %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.wait(ctx, 0, regexp.MustCompile(`^tail$`), nil); err != nil {
		t.Errorf("a mark older than the kept lines: %v", err)
	}
}

// A guest that prints without end and never a newline costs the driver
// bounded memory: the line is cut at the limit.
func TestConsoleEndlessLineBounded(t *testing.T) {
	c := newTestConsole(t)
	chunk := strings.Repeat("x", 32<<10)
	for range 64 { // 2 MiB without a newline
		c.add(chunk)
	}
	n := transport.Limits.ConsoleLine
	if len(c.partial) > n {
		t.Errorf("partial line holds %d bytes, limit %d", len(c.partial), n)
	}
	if got := c.last(1); len(got) != 1 || len(got[0]) != n {
		t.Errorf("last line is %d bytes, want the limit %d", len(got[0]), n)
	}
	// The last n bytes stay the partial line until more arrives.
	if want := 64*(32<<10)/n - 1; c.total != want {
		t.Errorf("%d lines, want %d", c.total, want)
	}
}

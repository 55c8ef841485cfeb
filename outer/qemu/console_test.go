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

// A guest that floods its serial line cannot fill the driver's disk: the
// console log stops at its limit with a marker line, and once QEMU exits
// the last lines (kept in memory anyway) follow the marker, so the end of
// a failing boot is still in the artifact.
func TestConsoleLogBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	c := newConsole(f)
	c.max = 1 << 20 // the real limit is maxConsoleLog; 1 MiB keeps the test quick
	line := strings.Repeat("y", 99) + "\n"
	flood := strings.NewReader(strings.Repeat(line, 30000) + "the last line of the boot\n") // 3 MB
	c.copy(flood)
	c.close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tailMax := int64(transport.Limits.ConsoleLines) * int64(transport.Limits.ConsoleLine+1)
	if int64(len(b)) > c.max+tailMax+4096 {
		t.Fatalf("console log is %d bytes, limit %d plus the tail", len(b), c.max)
	}
	s := string(b)
	marker := strings.Index(s, "console log cut at 1 MiB")
	if marker < 0 || marker > int(c.max)+64 {
		t.Fatalf("no marker at the limit (at %d) in %d bytes", marker, len(b))
	}
	if !strings.Contains(s[marker:], "the last 5000 lines follow") || !strings.HasSuffix(s, "the last line of the boot\n") {
		t.Errorf("the tail after the marker is missing: %q", s[marker:marker+200])
	}
	// A second launch appending to the same file finds it full.
	f2, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	c2 := newConsole(f2)
	c2.max = 1 << 20
	c2.copy(strings.NewReader(line))
	c2.close()
	if b2, _ := os.ReadFile(path); len(b2) > len(b)+200 {
		t.Errorf("a second console appended %d bytes past the limit", len(b2)-len(b))
	}
}

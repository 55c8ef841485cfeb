package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

// ansi matches the terminal escapes systemd and getty write to the serial
// line (colours, cursor moves), which would break line matching.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>c]`)

// maxConsoleLog bounds the console log file of one VM: a guest that
// floods its serial line must not fill the driver's disk. Past it the log
// gets a marker line, and when QEMU exits, the last lines kept in memory.
const maxConsoleLog = 64 << 20

// console copies the serial console to a file and keeps its last lines.
type console struct {
	file *os.File
	max  int64 // maxConsoleLog; tests lower it

	mu      sync.Mutex
	written int64    // bytes in the file, an earlier launch's included
	cut     int64    // bytes not written past max
	lines   []string // the last transport.Limits.ConsoleLines lines
	total   int      // complete lines seen
	partial string   // the line being written (a login prompt has no newline)
	changed chan struct{}
	closed  bool
}

func newConsole(f *os.File) *console {
	c := &console{file: f, max: maxConsoleLog, changed: make(chan struct{})}
	// The file is opened for appending: a relaunch of the same VM counts
	// what the earlier one wrote.
	if fi, err := f.Stat(); err == nil {
		c.written = fi.Size()
	}
	return c
}

// copy reads QEMU's serial output until EOF.
func (c *console) copy(r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			c.write(buf[:n])
			c.add(string(buf[:n]))
		}
		if err != nil {
			return
		}
	}
}

// write appends b to the log file up to max, then the marker line once.
func (c *console) write(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	room := max(c.max-c.written, 0)
	if int64(len(b)) <= room {
		n, _ := c.file.Write(b)
		c.written += int64(n)
		return
	}
	if c.cut == 0 && room > 0 {
		n, _ := c.file.Write(b[:room])
		c.written += int64(n)
	}
	if c.cut == 0 && c.written <= c.max {
		n, _ := fmt.Fprintf(c.file, "\n[atomic-selftest-outer: console log cut at %d MiB; the last lines follow when the VM stops]\n", c.max>>20)
		c.written += int64(n)
	}
	c.cut += int64(len(b)) - room
}
func (c *console) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	parts := strings.Split(c.partial+s, "\n")
	c.partial = parts[len(parts)-1]
	lines := parts[:len(parts)-1]
	// A guest that never ends its line must not grow the partial one
	// without end: it is cut into lines of the limit's length.
	for n := transport.Limits.ConsoleLine; len(c.partial) > n; c.partial = c.partial[n:] {
		lines = append(lines, c.partial[:n])
	}
	for _, l := range lines {
		c.lines = append(c.lines, clean(l))
		c.total++
	}
	if over := len(c.lines) - transport.Limits.ConsoleLines; over > 0 {
		c.lines = append(c.lines[:0:0], c.lines[over:]...)
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

func clean(l string) string {
	l = ansi.ReplaceAllString(l, "")
	l = strings.ReplaceAll(l, "\r", "")
	return strings.TrimRight(l, " \t")
}

func (c *console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut > 0 && !c.closed {
		// The end of a boot is what a failure needs; the lines in memory
		// are bounded (transport.Limits), so the file stays bounded too.
		tail := c.lines
		if p := clean(c.partial); p != "" {
			tail = append(tail[:len(tail):len(tail)], p)
		}
		fmt.Fprintf(c.file, "[atomic-selftest-outer: %d bytes were not written; the last %d lines follow]\n", c.cut, len(tail))
		for _, l := range tail {
			fmt.Fprintln(c.file, l)
		}
	}
	_ = c.file.Close()
	if !c.closed {
		c.closed = true
		close(c.changed)
	}
}

func (c *console) mark() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

func (c *console) last(n int) []string {
	if c == nil || n <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.lines
	if p := clean(c.partial); p != "" {
		out = append(out[:len(out):len(out)], p)
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return append([]string(nil), out...)
}

// wait returns the first line after mark matching re, looking at the
// partial line too.
func (c *console) wait(ctx context.Context, mark int, re *regexp.Regexp, exited <-chan struct{}) (string, error) {
	for {
		c.mu.Lock()
		first := c.total - len(c.lines) // line number of c.lines[0]
		start := mark - first
		if start < 0 {
			start = 0
		}
		for i := start; i < len(c.lines); i++ {
			if re.MatchString(c.lines[i]) {
				l := c.lines[i]
				c.mu.Unlock()
				return l, nil
			}
		}
		if p := clean(c.partial); p != "" && re.MatchString(p) {
			c.mu.Unlock()
			return p, nil
		}
		ch, closed := c.changed, c.closed
		c.mu.Unlock()
		if closed {
			return "", errors.New("console closed (QEMU exited) before " + re.String())
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-ch:
		case <-exited:
		}
	}
}

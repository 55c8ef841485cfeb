package outer

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProgressPlain(t *testing.T) {
	var b lockedBuf
	p := NewProgress(&b, false, 1, 2)
	p.Event(Event{Host: "h1", Step: "baseline", Status: "start"})
	p.Event(Event{Host: "h1", Step: "baseline", Action: plan.ActWaitUp, Status: "start"})
	p.Event(Event{Host: "h1", Step: "baseline", Status: report.StepFail, Message: "wait-up: boom", Elapsed: 2 * time.Second})
	p.Stop()
	out := b.String()
	if strings.Contains(out, "\033") || strings.Count(out, "\n") != 2 ||
		!strings.Contains(out, "h1 baseline: start") || !strings.Contains(out, "h1 baseline: fail (2.0s): wait-up: boom") {
		t.Errorf("plain output:\n%q", out)
	}
}

func TestProgressTTY(t *testing.T) {
	var b lockedBuf
	p := NewProgress(&b, true, 2, 1)
	p.Event(Event{Host: "h1", Step: "baseline", Action: plan.ActReboot, Status: "start"})
	time.Sleep(700 * time.Millisecond)
	p.Event(Event{Host: "h1", Step: "baseline", Status: report.StepPass})
	time.Sleep(700 * time.Millisecond)
	p.Stop()
	out := b.String()
	for _, want := range []string{"\r\033[K", "0/2 steps, 0 failed", "h1 baseline/reboot", "1/2 steps", "██████████░░░░░░░░░░", "h1 baseline: pass"} {
		if !strings.Contains(out, want) {
			t.Errorf("tty output lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("the status line is not cleared at the end: %q", out[max(0, len(out)-40):])
	}
}

// A host's strings cannot move the cursor, clear the line or recolour
// the operator's terminal: ESC and CR arrive escaped.
func TestProgressEscapesHostStrings(t *testing.T) {
	var b lockedBuf
	p := NewProgress(&b, false, 1, 1)
	p.Event(Event{Host: "h\x1b[2J1", Step: "baseline", Status: report.StepFail, Message: "booted 28.1\r\x1b[32mPASS\x1b[0m \x9b31m \u202eevil"})
	p.Stop()
	out := b.String()
	if strings.ContainsAny(out, "\x1b\r\u009b\u202e") {
		t.Errorf("control characters reached the terminal: %q", out)
	}
	if !strings.Contains(out, `h\x1b[2J1 baseline: fail (0.0s): booted 28.1\r\x1b[32mPASS\x1b[0m \x9b31m \u202eevil`) {
		t.Errorf("escaped line: %q", out)
	}
}

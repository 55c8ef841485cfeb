package outer

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
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
	p.Event(Event{Host: "h1", Step: "baseline", Action: ActWaitUp, Status: "start"})
	p.Event(Event{Host: "h1", Step: "baseline", Status: StepFail, Message: "wait-up: boom", Elapsed: 2 * time.Second})
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
	p.Event(Event{Host: "h1", Step: "baseline", Action: ActReboot, Status: "start"})
	time.Sleep(700 * time.Millisecond)
	p.Event(Event{Host: "h1", Step: "baseline", Status: StepPass})
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

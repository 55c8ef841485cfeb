package outer

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Progress prints the driver's events: one plain line per finished step
// (what CI logs want), and on a terminal also a status line redrawn in
// place with a spinner and a bar of the steps done.
type Progress struct {
	w        io.Writer
	tty      bool
	total    int // steps in the whole run
	start    time.Time
	mu       sync.Mutex
	done     int
	failed   int
	current  map[string]string // host -> "step/action"
	stop     chan struct{}
	stopped  chan struct{}
	lastLine int
}

// NewProgress starts a printer for hosts×steps steps.
func NewProgress(w io.Writer, tty bool, hosts, steps int) *Progress {
	p := &Progress{w: w, tty: tty, total: hosts * steps, start: time.Now(), current: map[string]string{},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if tty {
		go p.spin()
	} else {
		close(p.stopped)
	}
	return p
}

// Event is the Options.OnEvent hook. The host's name, the step and the
// message may come from the host: they are printed through Printable.
func (p *Progress) Event(e Event) {
	e.Host, e.Step, e.Action, e.Status, e.Message = record.Printable(e.Host), record.Printable(e.Step), record.Printable(e.Action), record.Printable(e.Status), record.Printable(e.Message)
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Status == "start" {
		what := e.Step
		if e.Action != "" {
			what += "/" + e.Action
		}
		p.current[e.Host] = what
		if e.Action == "" && !p.tty {
			fmt.Fprintf(p.w, "[%7.1fs] %s %s: start\n", time.Since(p.start).Seconds(), e.Host, e.Step)
		}
		return
	}
	if e.Status == StatusInfo {
		p.clear()
		fmt.Fprintf(p.w, "[%7.1fs] %s %s: %s\n", time.Since(p.start).Seconds(), e.Host, e.Step, e.Message)
		return
	}
	p.done++
	if e.Status != report.StepPass {
		p.failed++
	}
	delete(p.current, e.Host)
	p.clear()
	line := fmt.Sprintf("[%7.1fs] %s %s: %s (%.1fs)", time.Since(p.start).Seconds(), e.Host, e.Step, e.Status, e.Elapsed.Seconds())
	if e.Message != "" {
		line += ": " + e.Message
	}
	fmt.Fprintln(p.w, line)
}

// clear erases the status line; p.mu is held.
func (p *Progress) clear() {
	if p.tty && p.lastLine > 0 {
		fmt.Fprint(p.w, "\r\033[K")
		p.lastLine = 0
	}
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (p *Progress) spin() {
	defer close(p.stopped)
	t := time.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-p.stop:
			p.mu.Lock()
			p.clear()
			p.mu.Unlock()
			return
		case <-t.C:
		}
		p.mu.Lock()
		const width = 20
		fill := 0
		if p.total > 0 {
			fill = p.done * width / p.total
		}
		bar := strings.Repeat("█", fill) + strings.Repeat("░", width-fill)
		var running string
		for h, s := range p.current {
			running = h + " " + s
			break
		}
		if n := len(p.current); n > 1 {
			running += fmt.Sprintf(" (+%d)", n-1)
		}
		line := fmt.Sprintf("%s %s %d/%d steps, %d failed, %s  %s", spinner[i%len(spinner)], bar, p.done, p.total, p.failed,
			time.Since(p.start).Truncate(time.Second), running)
		fmt.Fprint(p.w, "\r\033[K"+line)
		p.lastLine = len(line)
		p.mu.Unlock()
	}
}

// Stop ends the status line.
func (p *Progress) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.stopped
}

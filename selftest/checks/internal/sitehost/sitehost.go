// Package sitehost makes checks of the site's files (selftest/site): one
// selftest.Check per script found, which runs it and turns its exit
// status and output into the verdict and the evidence.
package sitehost

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/site"
)

// ExitSkip is the exit status that says "does not apply here", as
// systemd's ExecCondition= tests and automake's test harness use it.
const ExitSkip = 77

// grace lets Exec kill the group and report before the runner's own
// timeout of the check ends the wait.
const grace = 5 * time.Second

// Checks makes one check per script, timed by [site] timeout and
// [site.timeouts] (read now: the configuration is the run's).
func Checks(rc *selftest.RunContext, scripts []site.Script, what string) []*selftest.Check {
	out := make([]*selftest.Check, 0, len(scripts))
	for _, s := range scripts {
		timeout := rc.Config.Site.Timeout.D()
		if d, ok := rc.Config.Site.Timeouts[s.Name]; ok {
			timeout = d.D()
		}
		out = append(out, &selftest.Check{
			ID:          s.ID,
			Criterion:   "SITE",
			Required:    s.Required,
			Description: fmt.Sprintf("%s %s exits 0 (77 skips)", what, s.Path),
			Timeout:     timeout + grace,
			Run:         runScript(s, timeout),
		})
	}
	return out
}

// runScript runs one script. It never runs against --sysroot (the
// check is not Offline): a script looks at the running system, and what
// it would see of an image under another root cannot be told.
func runScript(s site.Script, timeout time.Duration) func(context.Context, *selftest.T) {
	return func(ctx context.Context, t *selftest.T) {
		t.Detail("path", s.Path)
		if s.Masks != "" {
			t.Detail("masks", s.Masks)
		}
		if s.Problem != "" {
			t.Fail("%s", s.Problem)
			return
		}
		// exec takes a path: the root-prefixed one (the same on a live
		// host, whose root is /).
		argv := append([]string(nil), s.Argv...)
		argv[len(argv)-1] = t.Host.Path(argv[len(argv)-1]) // outside the door: exec takes a path
		o := site.Exec(ctx, site.Spec{
			Argv:    argv,
			Env:     site.Environ(t.Trigger, t.BootID, t.ResultsDir),
			Timeout: timeout,
		})
		if o.Err != nil {
			t.Fail("%s could not be run: %v", s.Path, o.Err)
			return
		}
		tail := strings.TrimRight(string(o.Tail), "\n")
		if tail != "" {
			name := "output"
			if o.Total > int64(len(o.Tail)) {
				name = fmt.Sprintf("output (last %d of %d bytes)", len(o.Tail), o.Total)
			}
			t.Evidence(name, "", record.Printable(tail))
		}
		last := tail
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		if len(last) > 200 {
			last = last[:200] + "…"
		}
		said := ""
		if last != "" {
			said = ": " + record.Printable(last)
		}
		var problems []string
		if len(o.Left) > 0 {
			t.Evidence("left running", "nothing", strings.Join(o.Left, ", "))
			problems = append(problems, fmt.Sprintf("%s left %d process(es) running (%s); its process group was killed", s.Path, len(o.Left), record.Printable(strings.Join(o.Left, ", "))))
		}
		if o.PipeHeld {
			problems = append(problems, fmt.Sprintf("a process %s started outside its process group still held its output after it ended", s.Path))
		}
		// What the script's end says comes first, then what it left.
		var end string
		switch {
		case o.TimedOut:
			end = fmt.Sprintf("%s timed out after %s; its process group was killed%s", s.Path, seconds(timeout), said)
		case o.Interrupted:
			end = fmt.Sprintf("%s was killed: the run ended first%s", s.Path, said)
		case o.Signal != "":
			end = fmt.Sprintf("%s was killed by %s%s", s.Path, o.Signal, said)
		case o.Code == ExitSkip && !s.Greenboot && len(problems) == 0:
			t.Skip("%s exited 77 (does not apply here)%s", s.Path, said)
			return
		case o.Code != 0:
			end = fmt.Sprintf("%s exited %d%s", s.Path, o.Code, said)
		default:
			t.Conclude(problems, "%s exited 0%s", s.Path, said)
			return
		}
		t.Fail("%s", strings.Join(append([]string{end}, problems...), "; "))
	}
}

// seconds writes d as the runner writes a timeout: "60 s", "0.3 s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

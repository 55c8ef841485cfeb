package syscontainer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/syscontainerfmt"
)

// fakeAtomic plays the atomic CLI and systemctl, which do not exist here,
// with the effects the real ones have on the files the check reads: pull
// writes the ociimage ref, install the checkout link, start makes the unit
// active and writes runc's state for a live process (this test's own),
// uninstall removes the checkout. fail names a command (by its first two
// words) that exits 1.
type fakeAtomic struct {
	root string
	sd   *checktest.Systemd
	fail string

	mu    sync.Mutex
	calls []string
}

func (f *fakeAtomic) Command(_ context.Context, _ time.Duration, argv ...string) ([]byte, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := strings.Join(argv, " ")
	f.calls = append(f.calls, line)
	if f.fail != "" && strings.HasPrefix(line, f.fail) {
		return nil, []byte("error: " + f.fail + " broke"), &selftest.ExitError{Argv: argv, Code: 1, Stderr: "error: " + f.fail + " broke"}
	}
	co := filepath.Join(f.root, "var/lib/containers/atomic")
	switch {
	case strings.HasPrefix(line, "atomic pull"):
		writeFile(filepath.Join(f.root, "var/lib/containers/atomic/.storage/ostree/refs/heads/ociimage/"+syscontainerfmt.EncodeOstreeRef(argv[len(argv)-1])), "0123\n")
	case strings.HasPrefix(line, "atomic install"):
		os.MkdirAll(filepath.Join(co, "probe.0"), 0o755)
		os.Symlink("/var/lib/containers/atomic/probe.0", filepath.Join(co, "probe"))
	case strings.HasPrefix(line, "systemctl start"):
		stat, _ := os.ReadFile("/proc/self/stat")
		_, start, _ := procStart(stat)
		writeFile(filepath.Join(f.root, "run/runc/probe/state.json"), fmt.Sprintf(`{"id": "probe", "init_process_pid": %d, "init_process_start": %d}`, os.Getpid(), start))
		f.sd.Set("probe.service", selftest.UnitState{LoadState: "loaded", ActiveState: "active", SubState: "running"})
	case strings.HasPrefix(line, "atomic uninstall"):
		os.RemoveAll(filepath.Join(co, "probe"))
		os.RemoveAll(filepath.Join(co, "probe.0"))
	}
	return nil, nil, nil
}

func writeFile(p, data string) {
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte(data), 0o644)
}

func atomicHost(t *testing.T, fail string) (*selftest.RunContext, *fakeAtomic) {
	root := t.TempDir()
	sd := checktest.NewSystemd(nil)
	h := selftest.NewRunContext(selftest.NewHost(root), nil)
	h.Offline = false
	h.Config.Syscontainer.Image = "registry.example.test/probe:1"
	h.Config.Syscontainer.Name = "probe"
	h.Config.Syscontainer.StartTimeout = 0
	h.NewSystemd = func(context.Context) (selftest.Systemd, error) { return sd, nil }
	f := &fakeAtomic{root: root, sd: sd, fail: fail}
	h.Commands = f
	return h, f
}

var atomicCheck = &selftest.Check{ID: "syscontainer.atomic", Criterion: "C10", Description: "t", Run: checkAtomic}

// The seed's sequence, in order, and the image pulled here is deleted.
func TestAtomicSequence(t *testing.T) {
	h, f := atomicHost(t, "")
	r := runCheck(t, h, atomicCheck)
	if r.Status != record.StatusPass {
		t.Fatalf("%s: %s\n%s", r.Status, r.Message, evidence(r))
	}
	want := []string{
		"atomic pull --storage ostree registry.example.test/probe:1",
		"atomic install --system --name probe registry.example.test/probe:1",
		"systemctl start probe.service",
		"atomic uninstall probe",
		"atomic images delete --storage ostree --force registry.example.test/probe:1",
	}
	if strings.Join(f.calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("commands:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
}

// A failing step fails the check naming the step and the tool's error,
// and what was installed is uninstalled.
func TestAtomicFailures(t *testing.T) {
	for _, c := range []struct{ fail, want string }{
		{"atomic pull", "atomic pull failed: atomic pull --storage ostree registry.example.test/probe:1 exited with status 1: error: atomic pull broke"},
		{"systemctl start", "systemctl start probe.service failed"},
	} {
		t.Run(c.fail, func(t *testing.T) {
			h, f := atomicHost(t, c.fail)
			r := runCheck(t, h, atomicCheck)
			if r.Status != record.StatusFail || !strings.Contains(r.Message, c.want) {
				t.Fatalf("%s: %s", r.Status, r.Message)
			}
			installed := false
			for _, l := range f.calls {
				installed = installed || strings.HasPrefix(l, "atomic install")
			}
			if last := f.calls[len(f.calls)-1]; installed && !strings.HasPrefix(last, "atomic images delete") && last != "atomic uninstall probe" {
				t.Fatalf("not cleaned up: %v", f.calls)
			}
		})
	}
}

func TestAtomicNotConfigured(t *testing.T) {
	h := selftest.NewRunContext(selftest.NewHost("/"), nil)
	if why := atomicApplies(context.Background(), h); !strings.Contains(why, "not configured") {
		t.Fatalf("applies = %q", why)
	}
}

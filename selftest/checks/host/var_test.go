package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// TestVarOnAnUnlockedDeployment (issue 23): `ostree admin unlock` makes
// /usr writable (an overlay), and host.var, a required check, failed for
// it while ostree.booted accepted the same host. On a booted root made by
// the real ostree: a writable /usr fails while the deployment is locked,
// and passes, saying so, once it is unlocked the two ways ostree records
// it. `ostree admin unlock` needs a booted system (it requires the booted
// deployment), so the state is written where ostree writes it
// (src/libostree/ostree-sysroot-private.h in ostreedev/ostree):
// development as the flag file unlocked-development under
// /run/ostree/deployment-state/CHECKSUM.SERIAL/, hotfix as "unlocked=hotfix"
// in the [origin] group of the deployment's origin, which persists.
func TestVarOnAnUnlockedDeployment(t *testing.T) {
	sr, _, c1 := ostreetest.TwoDeployments(t)
	root := sr.BootedRoot("fedora-atomic", c1, 0, false)
	r := runOne(t, "host.var", ostreetest.LiveHost(root))
	if r.Status != record.StatusPass {
		t.Fatalf("locked, /usr read-only: %s %q", r.Status, r.Message)
	}
	// The unlock's overlay: /usr writable.
	if err := syscall.Mount("", filepath.Join(root, "usr"), "", syscall.MS_REMOUNT|syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	r = runOne(t, "host.var", ostreetest.LiveHost(root))
	if r.Status != record.StatusFail || !strings.Contains(r.Message, "/usr is mounted read-write on an OSTree host and the booted deployment is not unlocked") {
		t.Fatalf("locked, /usr writable: %s %q", r.Status, r.Message)
	}

	flag := filepath.Join(root, "run", "ostree", "deployment-state", c1+".0", "unlocked-development")
	if err := os.MkdirAll(filepath.Dir(flag), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r = runOne(t, "host.var", ostreetest.LiveHost(root))
	if r.Status != record.StatusPass || r.Message != "/var is writable and persistent; /usr is writable because the booted deployment is unlocked (development)" {
		t.Fatalf("unlocked (development): %s %q %+v", r.Status, r.Message, r.Evidence)
	}
	if err := os.RemoveAll(filepath.Join(root, "run", "ostree")); err != nil {
		t.Fatal(err)
	}

	sr.WriteOrigin("fedora-atomic", c1, 0, "[origin]\nrefspec="+ostreetest.Branch+"\nunlocked=hotfix\n")
	r = runOne(t, "host.var", ostreetest.LiveHost(root))
	if r.Status != record.StatusPass || !strings.Contains(r.Message, "unlocked (hotfix)") {
		t.Fatalf("unlocked (hotfix): %s %q", r.Status, r.Message)
	}
}

// TestVarSweepsKilledProbes (issue 24 item 12): a run killed with SIGKILL
// between creating and removing its probe left .probe-var-PID in the
// results directory, and later runs never removed it. A later run sweeps
// the probes of processes that are gone and leaves its own nothing.
func TestVarSweepsKilledProbes(t *testing.T) {
	testutil.NeedRoot(t)
	root := t.TempDir()
	dir := filepath.Join(root, probeDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A pid that is gone: a child that has exited and been waited for.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, fmt.Sprintf(".probe-var-%d", gone.Process.Pid))
	// A probe of a process still running (another run) is not touched.
	live := filepath.Join(dir, fmt.Sprintf(".probe-var-%d", os.Getppid()))
	other := filepath.Join(dir, "run-keep.json")
	for _, p := range []string{stale, live, other} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := runOne(t, "host.var", ostreetest.LiveHost(root))
	if r.Status != record.StatusPass {
		t.Fatalf("%s %q", r.Status, r.Message)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the killed run's probe %s is still there (%v)", stale, err)
	}
	for _, p := range []string{live, other} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left in %s: %v", dir, names)
	}
}

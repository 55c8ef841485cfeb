package probe

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

// probeBin is the real static binary; sleeperBin a static program that
// sleeps, from the system container check's test programs.
func probeBin(t testing.TB) string { return testutil.BuildBinary(t, "./cmd/atomic-selftest") }
func sleeperBin(t testing.TB) string {
	return testutil.BuildBinary(t, "./selftest/checks/syscontainer/testdata/sleeper")
}

// makeBundle makes a bundle with RuncSpec(args) whose rootfs holds
// binary as args[0], and returns it and a runc root for it.
func makeBundle(t *testing.T, binary string, args ...string) (bundle, runcRoot string) {
	t.Helper()
	dir := t.TempDir()
	bundle = filepath.Join(dir, "bundle")
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bundle, 0o711); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, filepath.Base(args[0])), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteRuncSpec(bundle, RuncSpec(args)); err != nil {
		t.Fatal(err)
	}
	return bundle, filepath.Join(dir, "runc")
}

const bundleTestName = "atomic-selftest-bundle-test"

// runBundle runs binary in a bundle made with RuncSpec under the real
// runc and returns its output.
func runBundle(t *testing.T, binary string, args ...string) string {
	t.Helper()
	bundle, root := makeBundle(t, binary, args...)
	out, err := exec.Command("runc", "--root", root, "run", "--bundle", bundle, bundleTestName).CombinedOutput()
	exec.Command("runc", "--root", root, "delete", "--force", bundleTestName).Run()
	if err != nil {
		t.Fatalf("runc run: %v\n%s", err, out)
	}
	return string(out)
}

// The probe passes under its seccomp filter and sees it. Repro (issue 17
// item 10): on the old bundle the marker said seccomp 0.
func TestProbeUnderSeccomp(t *testing.T) {
	testutil.NeedRunc(t)
	out := runBundle(t, probeBin(t), BinaryPath, "probe", "--nonce", "n1")
	m, err := Parse([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if problems := Verify(m, Want{Nonce: "n1", ReadOnly: true, NoNetwork: true, Hostname: Hostname}); len(problems) > 0 || m.UID != UID {
		t.Errorf("sandbox: %v, uid %d", problems, m.UID)
	}
	if m.Seccomp != 2 {
		t.Errorf("Seccomp: %d in the probe's /proc/self/status, want 2 (a filter)", m.Seccomp)
	}
}

// A fork bomb in the probe's container stops at the pids limit with
// EAGAIN. Repro: on the old bundle (no limit) all 200 forks succeeded.
func TestProbePidsLimit(t *testing.T) {
	testutil.NeedRunc(t)
	out := runBundle(t, testutil.BuildBinary(t, "./selftest/checks/syscontainer/testdata/forker"), "/forker")
	var n int
	var errText string
	line := strings.TrimSpace(out)
	if i := strings.Index(line, ": "); i > 0 && strings.HasPrefix(line, "forked ") {
		var err error
		if n, err = strconv.Atoi(line[len("forked "):i]); err != nil {
			t.Fatalf("output %q: %v", out, err)
		}
		errText = line[i+2:]
	} else {
		t.Fatalf("output %q", out)
	}
	if n >= PidsLimit || errText != "resource temporarily unavailable" {
		t.Errorf("forked %d children (%s), want fewer than the pids limit %d and EAGAIN", n, errText, PidsLimit)
	}
	t.Logf("%s", line)
}

// The spec the probe gets declares the filter and the limits as the
// runtime-spec expresses them.
func TestProbeSpecLimits(t *testing.T) {
	s := RuncSpec([]string{"/x"})
	sc := s.Linux.Seccomp
	if sc == nil || sc.DefaultAction != "SCMP_ACT_ERRNO" || sc.DefaultErrnoRet == nil || len(sc.Architectures) != 2 {
		t.Fatalf("seccomp %+v", sc)
	}
	r := s.Linux.Resources
	if r == nil || *r.Pids.Limit != PidsLimit || *r.Memory.Limit != MemoryLimit {
		t.Fatalf("resources %+v", r)
	}
}

// The container's cgroup has the limits: runc's own statistics of a
// running probe stand-in. Repro: on the old bundle pids.limit was 0 (no
// limit) and the memory limit the whole machine's.
func TestProbeCgroupLimits(t *testing.T) {
	testutil.NeedRunc(t)
	bundle, root := makeBundle(t, sleeperBin(t), "/sleeper")
	// Detached, the container keeps runc's stdio: /dev/null, or the
	// command would wait for the sleeper to close a pipe.
	if err := exec.Command("runc", "--root", root, "run", "--detach", "--bundle", bundle, bundleTestName).Run(); err != nil {
		t.Fatalf("runc run --detach: %v", err)
	}
	defer exec.Command("runc", "--root", root, "delete", "--force", bundleTestName).Run()
	out, err := exec.Command("runc", "--root", root, "events", "--stats", bundleTestName).Output()
	if err != nil {
		t.Fatalf("runc events: %v", err)
	}
	var ev struct {
		Data struct {
			Pids   struct{ Current, Limit uint64 }
			Memory struct {
				Usage struct{ Usage, Limit uint64 }
			}
		}
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		t.Fatalf("runc events: %v\n%s", err, out)
	}
	if ev.Data.Pids.Limit != PidsLimit || ev.Data.Memory.Usage.Limit != MemoryLimit {
		t.Errorf("cgroup limits: pids %d, memory %d; want %d and %d", ev.Data.Pids.Limit, ev.Data.Memory.Usage.Limit, PidsLimit, MemoryLimit)
	}
	t.Logf("pids %d of %d, memory %d of %d", ev.Data.Pids.Current, ev.Data.Pids.Limit, ev.Data.Memory.Usage.Usage, ev.Data.Memory.Usage.Limit)
}

package syscontainer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
)

// runBundle runs binary as args[0] in a bundle made with probeSpec under
// the real runc and returns its output.
func runBundle(t *testing.T, binary string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle")
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
	if err := writeSpec(bundle, probeSpec(args)); err != nil {
		t.Fatal(err)
	}
	name := "atomic-selftest-bundle-test"
	out, err := exec.Command("runc", "--root", filepath.Join(dir, "runc"), "run", "--bundle", bundle, name).CombinedOutput()
	exec.Command("runc", "--root", filepath.Join(dir, "runc"), "delete", "--force", name).Run()
	if err != nil {
		t.Fatalf("runc run: %v\n%s", err, out)
	}
	return string(out)
}

// The probe passes under its seccomp filter and sees it. Repro (issue 17
// item 10): on the old bundle the marker said seccomp 0.
func TestProbeUnderSeccomp(t *testing.T) {
	needRunc(t)
	out := runBundle(t, probeBin(t), probe.BinaryPath, "probe", "--nonce", "n1")
	m, err := probe.Parse([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if problems := probe.Verify(m, probe.Want{Nonce: "n1", ReadOnly: true, NoNetwork: true, Hostname: probeHostname}); len(problems) > 0 || m.UID != probeUID {
		t.Errorf("sandbox: %v, uid %d", problems, m.UID)
	}
	if m.Seccomp != 2 {
		t.Errorf("Seccomp: %d in the probe's /proc/self/status, want 2 (a filter)", m.Seccomp)
	}
}

// A fork bomb in the probe's container stops at the pids limit with
// EAGAIN. Repro: on the old bundle (no limit) all 200 forks succeeded.
func TestProbePidsLimit(t *testing.T) {
	needRunc(t)
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
	if n >= probePidsLimit || errText != "resource temporarily unavailable" {
		t.Errorf("forked %d children (%s), want fewer than the pids limit %d and EAGAIN", n, errText, probePidsLimit)
	}
	t.Logf("%s", line)
}

// The spec the probe gets declares the filter and the limits as the
// runtime-spec expresses them.
func TestProbeSpecLimits(t *testing.T) {
	s := probeSpec([]string{"/x"})
	sc := s.Linux.Seccomp
	if sc == nil || sc.DefaultAction != "SCMP_ACT_ERRNO" || sc.DefaultErrnoRet == nil || len(sc.Architectures) != 2 {
		t.Fatalf("seccomp %+v", sc)
	}
	r := s.Linux.Resources
	if r == nil || *r.Pids.Limit != probePidsLimit || *r.Memory.Limit != probeMemoryLimit {
		t.Fatalf("resources %+v", r)
	}
}

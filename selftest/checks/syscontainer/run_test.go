package syscontainer

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.podman.io/image/v5/types"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ociimage"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// assertClean fails t if anything of syscontainer.run is left under dir:
// a container under the private runc root or a directory in the state
// directory.
func assertClean(t testing.TB, h *selftest.RunContext) {
	t.Helper()
	cfg := h.Config.Syscontainer
	p := &probeRun{h: h.Host, runc: "runc", root: cfg.RuncRoot, state: cfg.StateDir}
	ids, err := p.list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) > 0 {
		t.Errorf("runc still knows containers %v", ids)
	}
	for _, sub := range []string{srcDir, imagesDir, bundleDir, locksDir} {
		ents, _ := os.ReadDir(filepath.Join(cfg.StateDir, sub))
		for _, e := range ents {
			t.Errorf("left behind: %s", filepath.Join(cfg.StateDir, sub, e.Name()))
		}
	}
}

// The probe runs under real runc, its marker proves the sandbox, and the
// container, bundle and image are gone afterwards.
func TestRunPasses(t *testing.T) {
	testutil.NeedRunc(t)
	h := testHost(t, t.TempDir())
	r := runCheck(t, h, registered(t, "syscontainer.run"))
	if r.Status != record.StatusPass {
		t.Fatalf("status %s: %s\n%s", r.Status, r.Message, evidence(r))
	}
	ev := evidence(r)
	for _, want := range []string{`probe exit status: expected "0" seen "0"`, `probe user: expected "65534" seen "65534"`, `leftovers: expected "none" seen "none"`, "read-only root true, interfaces []"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev)
		}
	}
	assertClean(t, h)
}

// Where the host has an ostree repository, the image goes into it on
// the atomic CLI's branches, the bundle is checked out of it, and the
// branches are gone afterwards.
func TestRunOstree(t *testing.T) {
	testutil.NeedRunc(t)
	dir := t.TempDir()
	h := testHost(t, dir)
	repo := withOstree(t, h, dir)
	r := runCheck(t, h, registered(t, "syscontainer.run"))
	if r.Status != record.StatusPass {
		t.Fatalf("status %s: %s\n%s", r.Status, r.Message, evidence(r))
	}
	if ev := evidence(r); !strings.Contains(ev, "image store: expected \"ostree repository\" seen \""+repo+" ref ociimage/atomic-selftest-sc-") {
		t.Errorf("evidence:\n%s", ev)
	}
	if refs := ostreeRefs(t, repo); refs != "" {
		t.Errorf("branches left: %s", refs)
	}
	assertClean(t, h)
}

// Without runc the check fails and names the binary it looked for.
func TestRunMissingRunc(t *testing.T) {
	h := testHost(t, t.TempDir())
	h.Config.Syscontainer.Runc = "/nonexistent/runc"
	r := runCheck(t, h, &selftest.Check{ID: "syscontainer.run", Criterion: "C10", Description: "t", Run: checkSyscontainerRun})
	if r.Status != record.StatusFail || !strings.Contains(r.Message, `runc ("/nonexistent/runc") is not installed`) {
		t.Fatalf("got %s: %s", r.Status, r.Message)
	}
}

// A dynamically linked probe is refused before anything is made, with
// the reason (Debian's /bin/sh is dynamically linked).
func TestRunDynamicProbe(t *testing.T) {
	testutil.NeedRunc(t)
	h := testHost(t, t.TempDir())
	h.ProbeBinary = "/bin/sh"
	r := runCheck(t, h, registered(t, "syscontainer.run"))
	if r.Status != record.StatusError || !strings.Contains(r.Message, "the probe binary /bin/sh is dynamically linked (interpreter /") {
		t.Fatalf("%s: %s", r.Status, r.Message)
	}
	if err := staticBinary(probeBin(t)); err != nil {
		t.Fatalf("the CGO_ENABLED=0 build: %v", err)
	}
}

// A container process that exits non-zero fails the check with its status.
func TestRunNonZeroExit(t *testing.T) {
	testutil.NeedRunc(t)
	h := testHost(t, t.TempDir())
	h.ProbeBinary = exit3Bin(t)
	r := runCheck(t, h, registered(t, "syscontainer.run"))
	if r.Status != record.StatusFail || !strings.Contains(r.Message, "the probe container exited with status 3") {
		t.Fatalf("got %s: %s", r.Status, r.Message)
	}
	assertClean(t, h)
}

// runProbe runs p as the check would, through the runner.
func runProbe(t testing.TB, h *selftest.RunContext, p *probeRun) record.Result {
	t.Helper()
	return runCheck(t, h, &selftest.Check{ID: "syscontainer.run", Criterion: "C10", Description: "t", Run: func(ctx context.Context, st *selftest.T) {
		p.h = st.Host
		p.run(ctx, st, time.Minute)
	}})
}

func newProbeRun(h *selftest.RunContext) *probeRun {
	cfg := h.Config.Syscontainer
	nonce := probe.NewNonce()
	return &probeRun{runc: "runc", root: cfg.RuncRoot, state: cfg.StateDir, nonce: nonce, name: Prefix + nonce, binary: h.ProbeBinary}
}

// A layer blob whose content no longer matches its digest is refused by
// the copy, naming the blob.
func TestRunCorruptBlob(t *testing.T) {
	testutil.NeedRunc(t)
	h := testHost(t, t.TempDir())
	p := newProbeRun(h)
	var layer string
	p.damage = func(dir string) error {
		// The layer is the largest blob: flip one byte in its middle.
		ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
		if err != nil {
			return err
		}
		var size int64
		for _, e := range ents {
			fi, _ := e.Info()
			if fi.Size() > size {
				size, layer = fi.Size(), e.Name()
			}
		}
		f, err := os.OpenFile(filepath.Join(dir, "blobs", "sha256", layer), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, size/2); err != nil {
			return err
		}
		b[0] ^= 0xff
		_, err = f.WriteAt(b, size/2)
		return err
	}
	r := runProbe(t, h, p)
	if r.Status != record.StatusFail || !strings.Contains(r.Message, "blob sha256:"+layer+": blob digest mismatch") {
		t.Fatalf("got %s: %s", r.Status, r.Message)
	}
	assertClean(t, h)
}

// The image copy works from a real registry too (docker-registry on
// loopback, started by scripts/setup.d/30-syscontainer.sh).
func TestRunFromRegistry(t *testing.T) {
	testutil.NeedRunc(t)
	reg := os.Getenv("ATOMIC_SELFTEST_REGISTRY")
	testutil.Need(t, "registry", reg != "", "ATOMIC_SELFTEST_REGISTRY is not set")
	dir := t.TempDir()
	h := testHost(t, dir)
	p := newProbeRun(h)
	layout := filepath.Join(dir, "push")
	if _, err := ociimage.WriteLayout(layout, "t", func(w io.Writer) error { return probe.WriteLayer(w, probeBin(t)) },
		ociimage.Config{Entrypoint: []string{probe.BinaryPath}}); err != nil {
		t.Fatal(err)
	}
	src, _ := ociimage.ParseReference("oci:" + layout + ":t")
	dst, err := ociimage.ParseReference("docker://" + reg + "/atomic-selftest/probe:" + p.nonce)
	if err != nil {
		t.Fatal(err)
	}
	sys := &types.SystemContext{DockerInsecureSkipTLSVerify: types.OptionalBoolTrue}
	if _, err := ociimage.Copy(context.Background(), sys, src, dst); err != nil {
		t.Fatalf("pushing to the registry: %v", err)
	}
	p.sys = sys
	p.source = "docker://" + reg + "/atomic-selftest/probe:" + p.nonce
	r := runProbe(t, h, p)
	if r.Status != record.StatusPass {
		t.Fatalf("status %s: %s\n%s", r.Status, r.Message, evidence(r))
	}
	assertClean(t, h)
}

// A probe whose run is alive (its lock held: here by this test) is not a
// leftover: a concurrent run's sweep leaves it alone; once its lock is
// free the next run removes it.
func TestSweepSparesLiveProbes(t *testing.T) {
	testutil.NeedRunc(t)
	h := testHost(t, t.TempDir())
	live := &probeRun{h: h.Host, runc: "runc", root: h.Config.Syscontainer.RuncRoot, state: h.Config.Syscontainer.StateDir, name: Prefix + "live"}
	lock, err := live.lockProbe(live.name, true)
	if err != nil {
		t.Fatal(err)
	}
	_, _, bundle := live.dirs()
	os.MkdirAll(bundle, 0o700)
	r := runCheck(t, h, registered(t, "syscontainer.run"))
	if r.Status != record.StatusPass {
		t.Fatalf("%s: %s", r.Status, r.Message)
	}
	if _, err := os.Stat(bundle); err != nil {
		t.Fatalf("a live probe's bundle was swept: %v", err)
	}
	// The lock is released as a killed process's would be.
	lock.Close()
	r = runCheck(t, h, registered(t, "syscontainer.run"))
	if r.Status != record.StatusPass || r.Details["leftovers_removed"] == nil {
		t.Fatalf("%s: %s, removed %v", r.Status, r.Message, r.Details["leftovers_removed"])
	}
	assertClean(t, h)
}

const childEnv = "ATOMIC_SELFTEST_SYSCONT_CHILD"

// TestChildRun is the body of a run that TestRunFiftyTimesWithKills
// kills; it does nothing unless started as that child. It stops for good
// at the stage the parent names, after saying so in a file.
func TestChildRun(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestRunFiftyTimesWithKills")
	}
	h := newHost(dir)
	h.ProbeBinary = os.Getenv(childEnv + "_PROBE")
	h.Config.Syscontainer.OstreeRepo = filepath.Join(dir, "repo")
	p := newProbeRun(h)
	p.ostree = &ociimage.OstreeStore{Host: h.Host, Repo: h.Config.Syscontainer.OstreeRepo, MaxUnpack: maxUnpack}
	stop := os.Getenv(childEnv + "_STAGE")
	p.stage = func(name string) {
		if name == stop {
			os.WriteFile(filepath.Join(dir, "reached"), []byte(name), 0o600)
			time.Sleep(time.Hour)
		}
	}
	runProbe(t, h, p)
}

// killStages are where the killed runs stop: after making the layout,
// after the copy into the store, after the import into the ostree
// repository, after unpacking the bundle, and while the container runs
// (the sleeper stands in for the probe there).
var killStages = []string{"layout", "copied", "imported", "unpacked", "running"}

// Fifty runs, every fifth one (the 4th, 9th, … 49th) killed with SIGKILL in the middle of the
// check, at each stage in turn: the next run removes what the killed one
// left and passes, and at the end nothing is left.
func TestRunFiftyTimesWithKills(t *testing.T) {
	testutil.NeedRunc(t)
	if testing.Short() {
		t.Skip("-short")
	}
	dir := t.TempDir()
	h := testHost(t, dir)
	repo := withOstree(t, h, dir)
	killed, swept := 0, 0
	for i := 0; i < 50; i++ {
		if i%5 == 3 {
			stage := killStages[killed%len(killStages)]
			killChild(t, dir, stage)
			killed++
			continue
		}
		r := runCheck(t, h, registered(t, "syscontainer.run"))
		if r.Status != record.StatusPass {
			t.Fatalf("run %d: %s: %s", i, r.Status, r.Message)
		}
		if r.Details["leftovers_removed"] != nil {
			swept++
		}
	}
	assertClean(t, h)
	if refs := ostreeRefs(t, repo); refs != "" {
		t.Errorf("branches left: %s", refs)
	}
	if swept != killed {
		t.Errorf("%d runs were killed but %d runs found leftovers to remove", killed, swept)
	}
}

// killChild starts a run in a child process, waits until it reached
// stage, and kills its whole process group (runc included), as stopping
// the service with KillMode=control-group would.
func killChild(t *testing.T, dir, stage string) {
	t.Helper()
	reached := filepath.Join(dir, "reached")
	os.Remove(reached)
	probeBinary := probeBin(t)
	if stage == "running" {
		probeBinary = sleeperBin(t)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildRun$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, childEnv+"_PROBE="+probeBinary, childEnv+"_STAGE="+stage)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	h := newHost(dir)
	cfg := h.Config.Syscontainer
	p := &probeRun{h: h.Host, runc: "runc", root: cfg.RuncRoot, state: cfg.StateDir}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if stage == "running" {
			ids, _ := p.list(context.Background())
			if len(ids) > 0 && containerRunning(t, p, ids[0]) {
				return
			}
		} else if _, err := os.Stat(reached); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the child never reached stage %s", stage)
}

func containerRunning(t *testing.T, p *probeRun, id string) bool {
	out, err := p.h.Run(context.Background(), 10*time.Second, p.runcArgv("state", id)...)
	return err == nil && strings.Contains(string(out), `"status": "running"`)
}

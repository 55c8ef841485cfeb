package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/runtimehost"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/dockertest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		helperLoop()
		return
	}
	dockertest.Main(m)
}

// host returns a live host whose runtime socket is socket and whose probe
// is the real static binary.
func host(t *testing.T, socket string) *selftest.RunContext {
	t.Helper()
	cfg := config.Defaults()
	cfg.Runtime.Engine = config.EngineDocker
	cfg.Runtime.Socket = socket
	cfg.Runtime.PingTimeout = config.Duration(5 * time.Second)
	h := selftest.NewRunContext(selftest.NewHost("/"), cfg)
	h.ProbeBinary = dockertest.ProbeBinary(t)
	return h
}

func run(t *testing.T, h *selftest.RunContext, id string, timeout time.Duration) record.Result {
	t.Helper()
	return checktest.ByID(t, h, id, timeout)
}

// noStale fails t when the daemon holds a container or image of the
// self-test's whose owner is this process, or (on a private daemon, where
// no other test binary makes fixtures of dead owners) a dead one.
func noStale(t *testing.T, c *dockerprobe.Client, private bool) {
	t.Helper()
	owned, err := c.ListOwned(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	self := dockerprobe.Self().String()
	stale := func(label string) bool {
		o, err := dockerprobe.ParseOwner(label)
		if label == self {
			return true
		}
		return private && (err != nil || !o.Alive())
	}
	for name, o := range owned.Containers {
		if stale(o) {
			state := ""
			if api, err := c.API(context.Background()); err == nil {
				if ci, err := api.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{}); err == nil && ci.Container.State != nil {
					state = fmt.Sprintf("%s, created %s", ci.Container.State.Status, ci.Container.Created)
				}
			}
			t.Errorf("container %s (owner %s; %s) left behind", name, o, state)
		}
	}
	for id, o := range owned.Images {
		if stale(o) {
			t.Errorf("image %s (owner %s) left behind", id, o)
		}
	}
}

func TestRunPasses(t *testing.T) {
	d := dockertest.Shared(t)
	res := run(t, host(t, d.Socket), "runtime.run", 0)
	checktest.Expect(t, res, record.StatusPass, "pid 1", "read-only")
	seen := map[string]string{}
	for _, e := range res.Evidence {
		seen[e.Name] = e.Seen
	}
	if seen["probe pid"] != "1" || seen["probe root read-only"] != "true" || seen["probe network interfaces"] != "none" {
		t.Errorf("evidence %+v", res.Evidence)
	}
	tm, ok := res.Details["timings_ms"].(map[string]float64)
	if !ok || tm["create"] <= 0 || tm["start"] <= 0 || tm["exit"] <= 0 {
		t.Errorf("timings %v", res.Details["timings_ms"])
	}
	noStale(t, d.Client(t), false)
}

// TestRunDaemonStopped: a private daemon that crashed (SIGKILL: its socket
// file stays, nothing listens) and one stopped cleanly (the socket is
// gone; the installed unit keeps the check applicable). Both fail and say
// the daemon cannot be reached.
func TestRunDaemonStopped(t *testing.T) {
	d := dockertest.Start(t, dockertest.Options{})
	h := host(t, d.Socket)
	checktest.Expect(t, run(t, h, "runtime.run", 0), record.StatusPass)
	d.Kill(t)
	checktest.Expect(t, run(t, h, "runtime.run", 0), record.StatusFail, "cannot connect", d.Socket, "is the daemon running?")

	d = dockertest.Start(t, dockertest.Options{})
	h = host(t, d.Socket)
	// systemd, which is not PID 1 here, would have started the unit.
	h.NewSystemd = checktest.NewSystemd(nil).Open
	d.Stop(t)
	res := run(t, h, "runtime.run", 0)
	if runtimehost.NeedRuntime(context.Background(), h) != "" {
		// No docker.service installed on this machine either.
		checktest.Expect(t, res, record.StatusSkip, "no container runtime")
		return
	}
	checktest.Expect(t, res, record.StatusFail, "cannot connect", d.Socket)
}

// TestRunImageRefused: a daemon whose data root is a 4 MiB tmpfs cannot
// store the 12 MiB probe layer; the check fails naming the import.
func TestRunImageRefused(t *testing.T) {
	dockertest.Need(t)
	testutil.NeedRoot(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	d := dockertest.Start(t, dockertest.Options{DataRoot: filepath.Join(dir, "data")})
	res := run(t, host(t, d.Socket), "runtime.run", 0)
	checktest.Expect(t, res, record.StatusFail, "could not create the probe image")
	if !strings.Contains(res.Message, "no space left") {
		t.Errorf("message %q does not give the daemon's reason", res.Message)
	}
	noStale(t, d.Client(t), true)
}

// TestRunBinaryUnreadable: the self-test cannot read its own binary; that
// is the tool's error, not the runtime's failure.
func TestRunBinaryUnreadable(t *testing.T) {
	d := dockertest.Shared(t)
	h := host(t, d.Socket)
	h.ProbeBinary = filepath.Join(t.TempDir(), "missing")
	checktest.Expect(t, run(t, h, "runtime.run", 0), record.StatusError, "cannot make the probe image", "missing")
}

// TestRunExitsNonZero: the probe exits 3; the check fails with the status
// and the output, and the container is removed.
func TestRunExitsNonZero(t *testing.T) {
	d := dockertest.Shared(t)
	bin := filepath.Join(t.TempDir(), "exit3")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/exit3")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building exit3: %v %s", err, out)
	}
	h := host(t, d.Socket)
	h.ProbeBinary = bin
	checktest.Expect(t, run(t, h, "runtime.run", 0), record.StatusFail, "exited with status 3", "probe broke on purpose")
	noStale(t, d.Client(t), false)
}

// TestStalledSocket: the ping bound reports a daemon that accepts and
// never answers; with the ping bound above the check's timeout, the
// runner cuts the check at its timeout; either way the run ends in time.
func TestStalledSocket(t *testing.T) {
	sock := dockertest.StalledSocket(t)
	h := host(t, sock)
	h.Config.Runtime.PingTimeout = config.Duration(time.Second)
	h.NewSystemd = dockerUnit(selftest.UnitState{LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success"})

	start := time.Now()
	checktest.Expect(t, run(t, h, "runtime.run", 0), record.StatusFail, "did not answer within 1s", sock)
	checktest.Expect(t, run(t, h, "runtime.service", 0), record.StatusFail, "did not answer within 1s")
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("two checks against a stalled socket took %s", el)
	}

	h.Config.Runtime.PingTimeout = config.Duration(time.Minute)
	start = time.Now()
	checktest.Expect(t, run(t, h, "runtime.run", 2*time.Second), record.StatusFail, "timed out after 2 s")
	if el := time.Since(start); el > 2*time.Second+5*time.Second {
		t.Errorf("the check was not cut at its timeout: the run took %s", el)
	}
}

// dockerUnit is a systemd stand-in that knows docker.service in state u.
func dockerUnit(u selftest.UnitState) func(context.Context) (selftest.Systemd, error) {
	return checktest.NewSystemd(map[string]selftest.UnitState{"docker.service": u}).Open
}

func TestService(t *testing.T) {
	d := dockertest.Shared(t)
	good := selftest.UnitState{LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success", NRestarts: 1}
	for _, tc := range []struct {
		name   string
		unit   func(u selftest.UnitState) selftest.UnitState
		status record.Status
		msg    string
	}{
		// Active, started successfully, restarted within the bound.
		{"good", func(u selftest.UnitState) selftest.UnitState { return u }, record.StatusPass, "restarted 1 times"},
		// systemd knows no such unit: the runtime is not installed as configured.
		{"not found", func(u selftest.UnitState) selftest.UnitState { u.LoadState = "not-found"; return u }, record.StatusFail, "not-found, not loaded"},
		// Start failed: ActiveState failed and Result names why.
		{"failed", func(u selftest.UnitState) selftest.UnitState {
			u.ActiveState, u.SubState, u.Result, u.ExecMainStatus = "failed", "failed", "exit-code", 1
			return u
		}, record.StatusFail, "Result=exit-code"},
		// Restart=on-failure keeps bringing it back: NRestarts above the bound.
		{"restart loop", func(u selftest.UnitState) selftest.UnitState { u.NRestarts = 7; return u }, record.StatusFail, "restarting in a loop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := host(t, d.Socket)
			h.NewSystemd = dockerUnit(tc.unit(good))
			checktest.Expect(t, run(t, h, "runtime.service", 0), tc.status, tc.msg)
		})
	}
}

func TestSkips(t *testing.T) {
	h := host(t, filepath.Join(t.TempDir(), "no.sock"))
	h.Config.Runtime.Unit = "atomic-selftest-no-such-runtime.service"
	checktest.Expect(t, run(t, h, "runtime.run", 0), record.StatusSkip, "no container runtime")

	// The unit is installed but nothing listens and no systemd would
	// start it (a build container): skipped; with systemd: a failure.
	dir := t.TempDir()
	testutil.WriteFile(t, dir, "usr/lib/systemd/system/docker.service", "[Service]\nExecStart=/usr/bin/dockerd\n")
	h = host(t, filepath.Join(dir, "no.sock"))
	h.Root, h.Offline = dir, false
	if !h.SystemdBooted() {
		checktest.Expect(t, run(t, h, "runtime.run", 0), record.StatusSkip, "systemd, which would start it, is not PID 1")
	}
	h.NewSystemd = checktest.NewSystemd(nil).Open
	checktest.Expect(t, run(t, h, "runtime.run", 0), record.StatusFail, "cannot connect")

	d := dockertest.Shared(t)
	h = host(t, d.Socket)
	h.Config.Runtime.Atomic = "atomic-selftest-no-such-atomic"
	checktest.Expect(t, run(t, h, "runtime.atomic-run", 0), record.StatusSkip, "atomic CLI is not installed")
	if h.SystemdBooted() {
		t.Skip("systemd is PID 1 here")
	}
	checktest.Expect(t, run(t, h, "runtime.service", 0), record.StatusSkip, "systemd is not PID 1")
}

const helperEnv = "ATOMIC_SELFTEST_RUNTIME_HELPER"

// helperLoop is the child of TestNoLeftovers: it runs runtime.run against
// the socket in its environment until it is killed.
func helperLoop() {
	cfg := config.Defaults()
	cfg.Runtime.Socket = os.Getenv(helperEnv)
	h := selftest.NewRunContext(selftest.NewHost("/"), cfg)
	h.ProbeBinary = os.Getenv(helperEnv + "_BINARY")
	var c *selftest.Check
	for _, x := range selftest.Default.All() {
		if x.ID == "runtime.run" {
			c = x
		}
	}
	for {
		r := &selftest.Runner{RunContext: h, Checks: []*selftest.Check{c}}
		r.Run(context.Background(), &record.Record{})
	}
}

// TestNoLeftovers: 50 runs in this process, and runs killed with SIGKILL
// at random points mid-check; afterwards one more run, and the daemon
// holds nothing of the self-test's but what live processes own.
func ownsContainer(t *testing.T, c *dockerprobe.Client, o dockerprobe.Owner) bool {
	owned, err := c.ListOwned(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range owned.Containers {
		if label == o.String() {
			return true
		}
	}
	return false
}

func TestNoLeftovers(t *testing.T) {
	d := dockertest.Start(t, dockertest.Options{})
	c := d.Client(t)
	h := host(t, d.Socket)
	runs := 50
	if testing.Short() {
		runs = 5
	}
	for i := 0; i < runs; i++ {
		checktest.Expect(t, run(t, h, "runtime.run", 0), record.StatusPass)
	}
	noStale(t, c, true)

	// Kill children at staggered instants so they die in different steps
	// (import, create, start, wait, remove), and the last ones exactly
	// while their probe container exists.
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+d.Socket, helperEnv+"_BINARY="+dockertest.ProbeBinary(t))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for i, delay := range []time.Duration{150, 300, 450, 600, 800, 1000, 1300, 1700} {
		cmd := start()
		time.Sleep(delay*time.Millisecond + time.Duration(i)*37*time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
	}
	for i := 0; i < 3; i++ {
		cmd := start()
		owner, err := dockerprobe.OwnerOf(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for !ownsContainer(t, c, owner) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("the helper never created a probe container")
			}
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	owned, err := c.ListOwned(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(owned.Containers) == 0 {
		t.Fatal("the run killed with its probe container present left no container: nothing to clean up")
	}
	t.Logf("after the killed runs the daemon holds %d containers and %d images of the self-test's", len(owned.Containers), len(owned.Images))
	res := run(t, h, "runtime.run", 0)
	checktest.Expect(t, res, record.StatusPass)
	t.Logf("the next run: %s; %+v", res.Message, res.Evidence)
	noStale(t, c, true)
}

// TestAtomicRun runs runtime.atomic-run with a stand-in for the atomic CLI
// whose `run` follows the atomic source (testdata/atomic says where from):
// it reads the probe image's RUN label and runs it with the docker CLI.
func TestAtomicRun(t *testing.T) {
	d := dockertest.Shared(t)
	testutil.NeedCommand(t, "docker", "docker")
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		testutil.Need(t, "python3", false, "/usr/bin/python3 is missing")
	}
	fake, err := filepath.Abs("testdata/atomic")
	if err != nil {
		t.Fatal(err)
	}
	h := host(t, d.Socket)
	h.Config.Runtime.Atomic = fake
	res := run(t, h, "runtime.atomic-run", 0)
	checktest.Expect(t, res, record.StatusPass, "atomic run ran the probe image", "pid 1")
	argv, _ := res.Details["argv"].([]string)
	if len(argv) < 5 || argv[3] != "run" || argv[4] != "--name" {
		t.Errorf("argv %q", argv)
	}
	noStale(t, d.Client(t), false)

	// An atomic that fails: the check fails and shows why.
	h.Config.Runtime.Atomic = "/bin/false"
	checktest.Expect(t, run(t, h, "runtime.atomic-run", 0), record.StatusFail, "atomic run of the probe image failed")
	noStale(t, d.Client(t), false)
}

// Package dockertest gives tests a real docker daemon and the real static
// probe binary. The shared daemon is the one scripts/setup.d/20-docker.sh
// started (ATOMIC_SELFTEST_DOCKER_SOCKET); when that is unset, a private
// dockerd is started once per test binary, so `go test` works by hand.
// Tests that stop or break a daemon start their own with Start.
//
// A test package using it calls Main from its TestMain.
package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
)

// SocketEnv names the variable the CI setup exports: unix:///path.
const SocketEnv = "ATOMIC_SELFTEST_DOCKER_SOCKET"

var (
	binDir    string
	binPath   string
	binErr    error
	sharedMu  sync.Mutex
	shared    *Daemon
	sharedErr error
)

// Main builds the probe binary once, runs the tests, and stops the
// private shared daemon if one was started.
func Main(m *testing.M) {
	code := m.Run()
	sharedMu.Lock()
	if shared != nil {
		shared.stop()
	}
	sharedMu.Unlock()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var buildOnce sync.Once

// ProbeBinary returns the static atomic-selftest binary, built once with
// CGO_ENABLED=0 from this module's cmd/atomic-selftest.
func ProbeBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			binErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		binDir, binErr = os.MkdirTemp("", "atomic-selftest-probe-bin.")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "atomic-selftest")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/atomic-selftest")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("building the probe binary: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Available reports whether a daemon can be had here, and why not.
func Available() (bool, string) {
	if os.Getenv(SocketEnv) != "" {
		return true, ""
	}
	if testing.Short() {
		// -short (the RPM's %check among others) leaves out the suites
		// that start daemons.
		return false, "-short: no private dockerd is started (set " + SocketEnv + " to use a running one)"
	}
	if os.Geteuid() != 0 {
		return false, "starting a private dockerd needs root"
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		return false, "dockerd is not on PATH"
	}
	return true, ""
}

// Need skips or fails t (testutil.Need) when no daemon can be had.
func Need(t testing.TB) {
	t.Helper()
	ok, why := Available()
	testutil.Need(t, "docker", ok, why)
}

// Shared returns the run's shared daemon: the CI one, or a private one
// started on first use. Tests must not stop it.
func Shared(t testing.TB) *Daemon {
	t.Helper()
	Need(t)
	if s := os.Getenv(SocketEnv); s != "" {
		return &Daemon{Socket: strings.TrimPrefix(s, "unix://")}
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = start(Options{})
	}
	if sharedErr != nil {
		t.Fatalf("starting a private dockerd: %v", sharedErr)
	}
	return shared
}

// Options shape a private daemon.
type Options struct {
	// DataRoot, if set, is used as --data-root (for a daemon on a
	// particular filesystem); otherwise a temporary directory.
	DataRoot string
	// Args are added to dockerd's command line.
	Args []string
}

// Daemon is a running dockerd.
type Daemon struct {
	// Socket is the path of its unix socket.
	Socket string
	// DataRoot is its --data-root ("" for the CI daemon).
	DataRoot string

	cmd      *exec.Cmd
	state    string
	execRoot string
	stopOnce sync.Once
	done     chan struct{}
}

// Start starts a private daemon for t and stops it when t ends.
func Start(t testing.TB, o Options) *Daemon {
	t.Helper()
	Need(t)
	testutil.NeedRoot(t)
	d, err := start(o)
	if err != nil {
		t.Fatalf("starting a private dockerd: %v", err)
	}
	t.Cleanup(d.stop)
	return d
}

// Client dials the daemon.
func (d *Daemon) Client(t testing.TB) *dockerprobe.Client {
	t.Helper()
	c, err := dockerprobe.Dial(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Stop stops a private daemon (SIGTERM, then SIGKILL after 30 s) and
// waits for it; Stop of the CI daemon fails the test.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if d.cmd == nil {
		t.Fatal("dockertest: the shared daemon must not be stopped")
	}
	d.stop()
}

// Kill ends a private daemon with SIGKILL, as a crash would: its socket
// file stays behind with nothing listening. Its directories are removed
// when the test ends.
func (d *Daemon) Kill(t testing.TB) {
	t.Helper()
	if d.cmd == nil {
		t.Fatal("dockertest: the shared daemon must not be killed")
	}
	d.cmd.Process.Kill()
	<-d.done
}

func start(o Options) (*Daemon, error) {
	state, err := os.MkdirTemp("", "atomic-selftest-dockertest.")
	if err != nil {
		return nil, err
	}
	// The exec root holds containerd's shim sockets, whose paths must stay
	// short (108 bytes of sun_path): keep it in /run.
	execRoot, err := os.MkdirTemp("/run", "atomic-selftest-dt.")
	if err != nil {
		os.RemoveAll(state)
		return nil, err
	}
	d := &Daemon{Socket: filepath.Join(execRoot, "docker.sock"), DataRoot: o.DataRoot, state: state, execRoot: execRoot, done: make(chan struct{})}
	if d.DataRoot == "" {
		d.DataRoot = filepath.Join(state, "data")
	}
	ns := "atomic-selftest-" + filepath.Base(execRoot)
	args := append([]string{
		"--iptables=false", "--ip-masq=false", "--bridge=none",
		"--host", "unix://" + d.Socket,
		"--data-root", d.DataRoot,
		"--exec-root", filepath.Join(execRoot, "exec"),
		"--pidfile", filepath.Join(execRoot, "docker.pid"),
		"--containerd-namespace", ns, "--containerd-plugins-namespace", ns + "-plugins",
	}, o.Args...)
	logf, err := os.Create(filepath.Join(state, "dockerd.log"))
	if err != nil {
		d.cleanupDirs()
		return nil, err
	}
	d.cmd = exec.Command("dockerd", args...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		d.cleanupDirs()
		return nil, err
	}
	go func() { d.cmd.Wait(); logf.Close(); close(d.done) }()

	c, err := dockerprobe.Dial(d.Socket)
	if err != nil {
		d.stop()
		return nil, err
	}
	defer c.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, _, perr := c.Ping(context.Background(), 2*time.Second)
		if perr == nil {
			return d, nil
		}
		select {
		case <-d.done:
			log := d.logTail()
			d.stop()
			return nil, fmt.Errorf("dockerd exited during start-up:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			log := d.logTail()
			d.stop()
			return nil, fmt.Errorf("dockerd did not answer within 60 s: %v\n%s", perr, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *Daemon) logTail() string {
	b, _ := os.ReadFile(filepath.Join(d.state, "dockerd.log"))
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// stop ends the daemon and removes its directories and mounts.
func (d *Daemon) stop() {
	d.stopOnce.Do(func() {
		if d.cmd == nil || d.cmd.Process == nil {
			return
		}
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			// The daemon's process group includes its containerd.
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.done
		}
		// A managed containerd outlives dockerd's SIGTERM briefly.
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		d.cleanupDirs()
	})
}

func (d *Daemon) cleanupDirs() {
	UnmountUnder(d.execRoot)
	if d.state != "" {
		UnmountUnder(d.state)
	}
	if d.DataRoot != "" {
		UnmountUnder(d.DataRoot)
	}
	os.RemoveAll(d.execRoot)
	os.RemoveAll(d.state)
}

// UnmountUnder lazily unmounts everything mounted below dir, deepest
// first, so the directory can be removed.
func UnmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var ms []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			ms = append(ms, f[1])
		}
	}
	for i := len(ms) - 1; i >= 0; i-- {
		syscall.Unmount(ms[i], syscall.MNT_DETACH)
	}
}

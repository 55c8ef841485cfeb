// Package podmantest gives tests a real podman API service: Debian's
// podman, started by the test itself as `podman system service` on a
// private socket, with its storage, run root and temporary files in the
// test's own directory, so the host's containers-storage is untouched.
//
// What works on the CI machine (a container-like machine, root, no
// systemd as PID 1, no CAP_SYS_RESOURCE, podman 4.3.1):
//
//	podman --root DIR/root --runroot DIR/run --tmpdir DIR/libpod \
//	  --storage-driver overlay --cgroup-manager cgroupfs \
//	  --events-backend file system service --time 0 unix://DIR/podman.sock
//
// cgroupfs because no systemd manages cgroups here; the file events
// backend because there is no journal to write to; --time 0 so the
// service does not exit while idle (podman.socket's service would).
// TMPDIR points into DIR as well, where podman puts an imported layer
// before it stores it, so a test can prove nothing stays behind there.
package podmantest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/dockertest"
)

// Service is a running private podman API service.
type Service struct {
	// Socket is its API socket's path.
	Socket string
	// Dir holds everything it writes: root, run, libpod, tmp.
	Dir string
	// Podman is the podman binary.
	Podman string
	cmd    *exec.Cmd
	log    string
}

// Available reports whether a podman service can be started here.
func Available() (bool, string) {
	if testing.Short() {
		return false, "-short: no private podman service is started"
	}
	if os.Geteuid() != 0 {
		return false, "a rootful podman service needs root"
	}
	if _, err := exec.LookPath("podman"); err != nil {
		return false, "podman is not on PATH"
	}
	return true, ""
}

// Need skips or fails t (testutil.Need) when podman cannot be had.
func Need(t testing.TB) {
	t.Helper()
	ok, why := Available()
	testutil.Need(t, "podman", ok, why)
}

// Start starts a private podman service for t and stops it, unmounts
// what it mounted and removes its directory when t ends.
func Start(t testing.TB) *Service {
	t.Helper()
	Need(t)
	bin, _ := exec.LookPath("podman")
	// Short, because the socket path and conmon's attach socket under
	// the run root must fit in a sockaddr_un (108 bytes).
	dir, err := os.MkdirTemp("", "ast-podman.")
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{Socket: filepath.Join(dir, "podman.sock"), Dir: dir, Podman: bin, log: filepath.Join(dir, "service.log")}
	for _, d := range []string{"tmp", "libpod"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	logf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, append(s.GlobalArgs(), "system", "service", "--time", "0", "unix://"+s.Socket)...)
	s.cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Join(dir, "tmp"))
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		t.Fatalf("starting podman system service: %v", err)
	}
	logf.Close()
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(exited) })

	c, err := dockerprobe.Dial(s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("podman system service exited during start-up: %v\n%s", err, s.logTail())
		default:
		}
		if _, _, err := c.Ping(context.Background(), 2*time.Second); err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("podman system service did not answer on %s within 60 s\n%s", s.Socket, s.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// GlobalArgs are the podman global flags that point a podman command at
// this service's storage.
func (s *Service) GlobalArgs() []string {
	return []string{
		"--root", filepath.Join(s.Dir, "root"), "--runroot", filepath.Join(s.Dir, "run"),
		"--tmpdir", filepath.Join(s.Dir, "libpod"), "--storage-driver", "overlay",
		"--cgroup-manager", "cgroupfs", "--events-backend", "file",
	}
}

// Client returns an Engine API client for the service, closed when t ends.
func (s *Service) Client(t testing.TB) *dockerprobe.Client {
	t.Helper()
	c, err := dockerprobe.Dial(s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Leftovers lists what the probe's runs may have left in the service's
// directories: files in its TMPDIR (where imports are staged), and
// containers in its storage (root/overlay-containers). Empty means clean.
func (s *Service) Leftovers() []string {
	var left []string
	for _, d := range []string{"tmp", "root/overlay-containers"} {
		es, _ := os.ReadDir(filepath.Join(s.Dir, d))
		for _, e := range es {
			if e.Name() == "containers.json" || e.Name() == "containers.lock" {
				continue
			}
			left = append(left, filepath.Join(d, e.Name()))
		}
	}
	return left
}

func (s *Service) logTail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return strings.TrimSpace(string(b))
}

func (s *Service) stop(exited chan error) {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	dockertest.UnmountUnder(s.Dir)
	if err := os.RemoveAll(s.Dir); err != nil {
		fmt.Fprintf(os.Stderr, "podmantest: removing %s: %v\n", s.Dir, err)
	}
}

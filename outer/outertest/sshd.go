package outertest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

// SSHD is a real OpenSSH sshd (Debian's openssh-server) run by the
// test on a free loopback port with its own host key and authorized key.
type SSHD struct {
	Addr       string
	HostKey    ssh.PublicKey
	ClientKey  string // private key file, authorised for root
	KnownHosts string // empty file, for the test to fill
	Dir        string
}

// FreePort is a loopback port nothing listens on (for now).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartSSHD runs Debian's /usr/sbin/sshd on a free loopback port for the
// test, as root; the test is skipped where it cannot.
func StartSSHD(t *testing.T) *SSHD {
	t.Helper()
	testutil.NeedRoot(t)
	_, err := os.Stat("/usr/sbin/sshd")
	testutil.Need(t, "sshd", err == nil, "/usr/sbin/sshd is missing (Debian package openssh-server)")
	// sshd's privilege separation wants this directory; the Debian service
	// creates it at start, which has not happened on a build machine.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &SSHD{Dir: dir, ClientKey: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	s.HostKey = WriteKey(t, filepath.Join(dir, "host_ed25519"))
	clientPub := WriteKey(t, s.ClientKey)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		port := FreePort(t)
		conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile none
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel ERROR
`, port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "authorized_keys"))
		cfgPath := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfgPath)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				t.Logf("sshd on %s exited: %s", addr, stderr.String())
				goto retry
			default:
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				s.Addr = addr
				t.Cleanup(func() {
					cmd.Process.Kill()
					<-exited
				})
				return s
			}
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Kill()
		<-exited
		t.Fatalf("sshd did not listen on %s: %s", addr, stderr.String())
	retry:
	}
	t.Fatal("sshd could not start on a free port")
	return nil
}

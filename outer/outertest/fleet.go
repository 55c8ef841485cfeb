package outertest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Fleet is simulated hosts plus the client side: a client key and a
// known_hosts that knows every host.
type Fleet struct {
	Hosts      []*Host
	KeyFile    string
	KnownHosts string
}

func NewFleet(t testing.TB, n int, tweak func(i int, h *Host)) *Fleet {
	t.Helper()
	dir := t.TempDir()
	f := &Fleet{KeyFile: filepath.Join(dir, "id"), KnownHosts: filepath.Join(dir, "known_hosts")}
	pub := WriteKey(t, f.KeyFile)
	var kh strings.Builder
	for i := 0; i < n; i++ {
		h := NewHost(t, fmt.Sprintf("host%02d", i), pub)
		if tweak != nil {
			h.Set(func(h *Host) { tweak(i, h) })
		}
		f.Hosts = append(f.Hosts, h)
		kh.WriteString(KnownHostsLine(h.Addr, h.HostKey()) + "\n")
	}
	if err := os.WriteFile(f.KnownHosts, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// WriteKey writes a fresh ed25519 private key in OpenSSH format to path
// and returns its public half.
func WriteKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	spub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return spub
}

// KnownHostsLine is addr's known_hosts line in OpenSSH's format.
func KnownHostsLine(addr string, key ssh.PublicKey) string {
	host, port, _ := net.SplitHostPort(addr)
	return fmt.Sprintf("[%s]:%s %s", host, port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))))
}

// Package ssh is the SSH transport of the outer driver: a
// transport.Machine reached over SSH (RFC 4254 "exec" channels) with host
// keys checked against an OpenSSH known_hosts file, keepalives, remote
// timeouts, and every output read from the host bounded.
package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

// Config says how to reach one host over SSH (RFC 4254 "exec"
// channels; files move through cat on the remote side, so nothing but a
// POSIX shell, cat, mv and chmod is needed there).
type Config struct {
	// Name is the host's name in reports; Addr when empty.
	Name string
	// Addr is host:port.
	Addr string
	// User is the login user (root when empty).
	User string
	// KeyFile is an unencrypted private key (OpenSSH or PEM format).
	KeyFile string
	// Agent uses the ssh-agent at $SSH_AUTH_SOCK (AgentSocket overrides).
	Agent       bool
	AgentSocket string
	// KnownHosts is the known_hosts file the host key is checked against
	// (OpenSSH's format). Required: there is no insecure mode.
	KnownHosts string
	// AcceptNewHostKey adds the key of a host that has no entry in
	// KnownHosts yet (OpenSSH's StrictHostKeyChecking=accept-new). A key
	// that differs from a recorded one is always refused.
	AcceptNewHostKey bool
	// NewHostKeyHint ends the error about a host key not yet in
	// KnownHosts: how the operator makes the program accept it.
	NewHostKeyHint string
	// DialTimeout bounds the TCP connect plus the SSH handshake
	// (default 15s).
	DialTimeout time.Duration
	// CommandTimeout bounds a command run with timeout 0 (default 5m).
	CommandTimeout time.Duration
	// KeepAlive is how often an idle or busy connection is probed with
	// keepalive@openssh.com; a probe unanswered for as long drops the
	// connection, so a host that froze fails its command now instead of
	// at the command's timeout (default 15s; negative disables).
	KeepAlive time.Duration
	// NoRemoteTimeout leaves out the remote `timeout` wrapper (for hosts
	// without coreutils). By default every command runs under
	// `timeout -k 5 T+5` on the host, because OpenSSH does not deliver
	// the SSH "signal" request and keeps a command running after its
	// channel closed: without it, a timed-out command would go on.
	NoRemoteTimeout bool
}

// Host is a transport.Machine reached over SSH. It dials lazily and dials again after
// the connection was lost, so it survives the host's reboots.
type Host struct {
	cfg   Config
	auth  []xssh.AuthMethod
	agent net.Conn

	mu     sync.Mutex // guards client and the known_hosts file
	client *xssh.Client
}

// NewSSH checks cfg and loads the credentials; it does not connect yet.
func New(cfg Config) (*Host, error) {
	if cfg.Addr == "" {
		return nil, errors.New("ssh: no address (host:port)")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("ssh: address %q: %w", cfg.Addr, err)
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Addr
	}
	if cfg.User == "" {
		cfg.User = "root"
	}
	if cfg.KnownHosts == "" {
		return nil, fmt.Errorf("ssh %s: no known_hosts file; host keys are always checked", cfg.Name)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 15 * time.Second
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 5 * time.Minute
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 15 * time.Second
	}
	m := &Host{cfg: cfg}
	if cfg.KeyFile != "" {
		data, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ssh key: %w", err)
		}
		signer, err := xssh.ParsePrivateKey(data)
		var missing *xssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("ssh key %s is encrypted: load it into an ssh-agent and use the agent instead", cfg.KeyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("ssh key %s: %w", cfg.KeyFile, err)
		}
		m.auth = append(m.auth, xssh.PublicKeys(signer))
	}
	if cfg.Agent || cfg.AgentSocket != "" {
		sock := cfg.AgentSocket
		if sock == "" {
			sock = os.Getenv("SSH_AUTH_SOCK")
		}
		if sock == "" {
			return nil, errors.New("ssh agent: SSH_AUTH_SOCK is not set")
		}
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, fmt.Errorf("ssh agent %s: %w", sock, err)
		}
		m.agent = conn
		m.auth = append(m.auth, xssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	if len(m.auth) == 0 {
		return nil, fmt.Errorf("ssh %s: no key file and no agent", cfg.Name)
	}
	return m, nil
}

// Name implements transport.Machine.
func (m *Host) Name() string { return m.cfg.Name }

// Addr is the host:port dialed.
func (m *Host) Addr() string { return m.cfg.Addr }

// Console implements transport.Machine: plain SSH has no console.
func (m *Host) Console(int) []string { return nil }

// Close implements transport.Machine.
func (m *Host) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	if m.client != nil {
		err = m.client.Close()
		m.client = nil
	}
	if m.agent != nil {
		m.agent.Close()
		m.agent = nil
	}
	return err
}

// Disconnect drops the current connection; the next call dials again.
func (m *Host) Disconnect() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil {
		m.client.Close()
		m.client = nil
	}
}

// Connect dials the host unless a connection is already open.
func (m *Host) Connect(ctx context.Context) error {
	_, err := m.conn(ctx)
	return err
}

func (m *Host) conn(ctx context.Context) (*xssh.Client, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client != nil {
		return m.client, nil
	}
	c, err := m.dial(ctx)
	if err != nil {
		return nil, err
	}
	m.client = c
	if m.cfg.KeepAlive > 0 {
		go m.keepAlive(c)
	}
	return c, nil
}

// keepAlive probes c until it closes and drops it when a probe goes
// unanswered. Any reply counts, also OpenSSH's "request failed".
func (m *Host) keepAlive(c *xssh.Client) {
	closed := make(chan struct{})
	go func() { c.Wait(); close(closed) }()
	t := time.NewTicker(m.cfg.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-closed:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case err := <-reply:
			if err == nil {
				continue
			}
		case <-closed:
			return
		case <-time.After(m.cfg.KeepAlive):
		}
		m.lost(c)
		return
	}
}

// dial connects and authenticates; m.mu is held.
func (m *Host) dial(ctx context.Context) (*xssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.DialTimeout)
	defer cancel()
	check, algos, err := m.hostKeyCheck()
	if err != nil {
		return nil, err
	}
	var keyErr error
	conf := &xssh.ClientConfig{
		User: m.cfg.User,
		Auth: m.auth,
		HostKeyCallback: func(hostname string, remote net.Addr, key xssh.PublicKey) error {
			keyErr = check(hostname, remote, key)
			return keyErr
		},
		HostKeyAlgorithms: algos,
		Timeout:           m.cfg.DialTimeout,
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", m.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", transport.ErrConnection, m.cfg.Name, err)
	}
	// The handshake has no context of its own: bound it by a deadline and
	// by closing the socket when ctx ends first.
	dl, _ := ctx.Deadline()
	nc.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	cc, chans, reqs, err := xssh.NewClientConn(nc, m.cfg.Addr, conf)
	stop()
	if err != nil {
		nc.Close()
		var hk *transport.HostKeyError
		if errors.As(keyErr, &hk) {
			return nil, hk
		}
		if keyErr != nil {
			return nil, fmt.Errorf("ssh %s: checking host key: %w", m.cfg.Name, keyErr)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("ssh %s: user %s: authentication refused: %v", m.cfg.Name, m.cfg.User, err)
		}
		return nil, fmt.Errorf("%w: %s: ssh handshake: %v", transport.ErrConnection, m.cfg.Name, err)
	}
	nc.SetDeadline(time.Time{})
	return xssh.NewClient(cc, chans, reqs), nil
}

// hostKeyCheck builds the known_hosts callback and the host key algorithms
// to offer. Offering only the types known_hosts has for this host matters:
// otherwise the server may present a key type that has no line and the
// check fails as a mismatch although the recorded key is fine.
func (m *Host) hostKeyCheck() (xssh.HostKeyCallback, []string, error) {
	file := m.cfg.KnownHosts
	files := []string{file}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		// No file yet knows no host: every key is new.
		files = nil
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, nil, fmt.Errorf("known_hosts %s: %w", file, err)
	}
	algos := knownAlgorithms(cb, m.cfg.Addr)
	check := func(hostname string, remote net.Addr, key xssh.PublicKey) error {
		err := cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		if err == nil || !errors.As(err, &ke) {
			return err
		}
		herr := &transport.HostKeyError{Host: m.cfg.Addr, Fingerprint: key.Type() + " " + xssh.FingerprintSHA256(key), File: file, Hint: m.cfg.NewHostKeyHint}
		for _, w := range ke.Want {
			herr.Known = append(herr.Known, fmt.Sprintf("%s:%d", w.Filename, w.Line))
		}
		if len(ke.Want) > 0 || !m.cfg.AcceptNewHostKey {
			return herr
		}
		line := knownhosts.Line([]string{knownhosts.Normalize(m.cfg.Addr)}, key)
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return fmt.Errorf("recording new host key: %w", err)
		}
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("recording new host key: %w", err)
		}
		_, err = fmt.Fprintln(f, line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("recording new host key in %s: %w", file, err)
		}
		return nil
	}
	return check, algos, nil
}

// knownAlgorithms asks the callback about a key no host has, which makes
// knownhosts list every recorded key for addr, and returns the host key
// algorithms that match them (nil, the library default, when none).
func knownAlgorithms(cb xssh.HostKeyCallback, addr string) []string {
	probe, err := xssh.NewPublicKey(probeKey())
	if err != nil {
		return nil
	}
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	if tcp == nil {
		tcp = &net.TCPAddr{}
	}
	var ke *knownhosts.KeyError
	if err := cb(addr, tcp, probe); !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var algos []string
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				algos = append(algos, x)
			}
		}
	}
	for _, w := range ke.Want {
		switch t := w.Key.Type(); t {
		case xssh.KeyAlgoRSA:
			add(xssh.KeyAlgoRSASHA512, xssh.KeyAlgoRSASHA256, xssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algos
}

// Run implements transport.Machine. Each argument is single-quoted for
// the remote user's POSIX shell, which is what an SSH "exec" request hands
// the command line to; nothing in an argument is interpreted. Stdout and
// stderr are each bounded by transport.Limits.Output.
func (m *Host) Run(ctx context.Context, timeout time.Duration, argv ...string) (transport.RunResult, error) {
	return m.run(ctx, timeout, nil, transport.Limits.Output, argv...)
}

// RunInput is Run with stdin fed from in (nil for none).
func (m *Host) RunInput(ctx context.Context, timeout time.Duration, in io.Reader, argv ...string) (transport.RunResult, error) {
	return m.run(ctx, timeout, in, transport.Limits.Output, argv...)
}

// capBuffer keeps at most max bytes; the first write past it calls full
// (which ends the command) and marks the buffer over. Further writes are
// dropped but accepted, so the session's copy goroutine never blocks the
// channel.
type capBuffer struct {
	buf  bytes.Buffer
	max  int64
	over atomic.Bool
	full func()
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if b.over.Load() {
		return len(p), nil
	}
	if room := b.max - int64(b.buf.Len()); int64(len(p)) > room {
		b.buf.Write(p[:room])
		b.over.Store(true)
		b.full()
		return len(p), nil
	}
	return b.buf.Write(p)
}

// run runs argv with each of stdout and stderr bounded by limit bytes: a
// command that prints more is ended and its error wraps
// transport.ErrTooLarge.
func (m *Host) run(ctx context.Context, timeout time.Duration, in io.Reader, limit int64, argv ...string) (transport.RunResult, error) {
	if timeout <= 0 {
		timeout = m.cfg.CommandTimeout
	}
	remote := argv
	if !m.cfg.NoRemoteTimeout && len(argv) > 0 {
		// A little longer than ours, so the local timeout is what the
		// caller sees and the remote one only cleans up.
		secs := int(math.Ceil(timeout.Seconds())) + 5
		remote = append([]string{"timeout", "-k", "5", strconv.Itoa(secs)}, argv...)
	}
	cmd, err := transport.QuoteArgv(remote)
	if err != nil {
		return transport.RunResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := m.conn(ctx)
	if err != nil {
		return transport.RunResult{}, err
	}
	sess, err := c.NewSession()
	if err != nil {
		m.lost(c)
		return transport.RunResult{}, fmt.Errorf("%w: %s: opening session: %v", transport.ErrConnection, m.cfg.Name, err)
	}
	defer sess.Close()
	stdout := &capBuffer{max: limit, full: cancel}
	stderr := &capBuffer{max: limit, full: cancel}
	sess.Stdout, sess.Stderr = stdout, stderr
	if in != nil {
		sess.Stdin = in
	}
	tooLarge := func() error {
		if stdout.over.Load() || stderr.over.Load() {
			return fmt.Errorf("%s: output of %s: %w of %d bytes", m.cfg.Name, argv[0], transport.ErrTooLarge, limit)
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- sess.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// Servers that honour "signal" stop the command now; for OpenSSH
		// the remote timeout wrapper does.
		sess.Signal(xssh.SIGKILL)
		sess.Close()
		// The output buffers belong to the session's copy goroutines
		// until Run returns; a dead connection may keep them, then the
		// output is dropped.
		res := transport.RunResult{ExitCode: -1}
		select {
		case <-done:
			res.Stdout, res.Stderr = stdout.buf.Bytes(), stderr.buf.Bytes()
		case <-time.After(2 * time.Second):
			m.lost(c)
		}
		if err := tooLarge(); err != nil {
			return res, err
		}
		if ctx.Err() == context.DeadlineExceeded {
			return res, fmt.Errorf("%s: %s: timed out after %s", m.cfg.Name, argv[0], timeout)
		}
		return res, fmt.Errorf("%s: %s: %w", m.cfg.Name, argv[0], ctx.Err())
	}
	res := transport.RunResult{Stdout: stdout.buf.Bytes(), Stderr: stderr.buf.Bytes()}
	if err := tooLarge(); err != nil {
		res.ExitCode = -1
		return res, err
	}
	var exit *xssh.ExitError
	var missing *xssh.ExitMissingError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitStatus()
		if exit.Signal() != "" {
			res.ExitCode = -1
		}
	case errors.As(err, &missing), errors.Is(err, io.EOF):
		m.lost(c)
		res.ExitCode = -1
		return res, fmt.Errorf("%w: %s: %s: connection closed before the command finished", transport.ErrConnection, m.cfg.Name, argv[0])
	default:
		m.lost(c)
		res.ExitCode = -1
		return res, fmt.Errorf("%w: %s: %s: %v", transport.ErrConnection, m.cfg.Name, argv[0], err)
	}
	return res, nil
}

// lost forgets c after it failed, so the next call dials again.
func (m *Host) lost(c *xssh.Client) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.client == c {
		m.client.Close()
		m.client = nil
	}
}

// fileTimeout bounds one file transfer.
const fileTimeout = 2 * time.Minute

// ReadFile implements transport.Machine with cat; the transfer is ended
// as soon as it passes limit bytes.
func (m *Host) ReadFile(ctx context.Context, path string, limit int64) ([]byte, error) {
	res, err := m.run(ctx, fileTimeout, nil, limit, "cat", "--", path)
	if errors.Is(err, transport.ErrTooLarge) {
		return nil, fmt.Errorf("%s: reading %s: %w of %d bytes", m.cfg.Name, path, transport.ErrTooLarge, limit)
	}
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("%s: reading %s: %s", m.cfg.Name, path, firstLine(res.Stderr))
	}
	return res.Stdout, nil
}

// writeScript writes stdin to a temporary file next to the target, sets
// its mode, and renames it over the target: readers see the old or the new
// file, never half of one. The path and mode arrive as positional
// parameters, never inside the script text.
const writeScript = `set -e; t="$1.outer-tmp.$$"; trap 'rm -f "$t"' EXIT; cat > "$t"; chmod "$2" "$t"; sync "$t" 2>/dev/null || true; mv -f "$t" "$1"; trap - EXIT`

// WriteFile implements transport.Machine.
func (m *Host) WriteFile(ctx context.Context, path string, data []byte, mode uint32) error {
	res, err := m.RunInput(ctx, fileTimeout, bytes.NewReader(data), "sh", "-c", writeScript, "sh", path, fmt.Sprintf("%o", mode&0o7777))
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: writing %s: %s", m.cfg.Name, path, firstLine(res.Stderr))
	}
	return nil
}

// BootID implements transport.Machine.
func (m *Host) BootID(ctx context.Context) (string, error) {
	return transport.ReadBootID(ctx, m)
}

// Reboot implements transport.Machine: systemctl reboot, where the connection
// dropping under the command is the expected outcome.
func (m *Host) Reboot(ctx context.Context) error {
	res, err := m.Run(ctx, 30*time.Second, "systemctl", "reboot")
	m.Disconnect()
	if err != nil {
		// Dropped or timed out while going down: both mean the reboot is
		// under way; the wait for a new boot id decides.
		return ctx.Err()
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s: systemctl reboot exited %d: %s", m.cfg.Name, res.ExitCode, firstLine(res.Stderr))
	}
	return nil
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "(no message)"
	}
	return s
}

// probeKey is a fixed ed25519 public key used only to make knownhosts list
// the keys it has for a host; it is never trusted.
func probeKey() ed25519.PublicKey {
	k := make([]byte, ed25519.PublicKeySize)
	for i := range k {
		k[i] = byte(i*7 + 1)
	}
	return k
}

// Package probe owns the probe that runs inside a container: the static
// atomic-selftest binary itself, started as `atomic-selftest probe --nonce
// N`, prints one JSON line (the marker) describing what it sees from the
// inside. The runtime and system container checks start it with docker or
// runc and verify the marker: the nonce proves this very run's container
// answered, pid 1 proves it is the container's init, a read-only root and
// no network interface prove the sandbox was applied.
//
// It also writes the probe image's single layer: a tar holding the binary
// at /atomic-selftest, which `docker import`, an OCI layout or a runc
// bundle's rootfs can all be made from, offline, and the OCI runtime spec
// (config.json) runc starts it under: user nobody, its own namespaces, a
// read-only root, loopback only, a seccomp allow-list and cgroup limits
// (bundle.go).
package probe

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Magic identifies the marker line and its format version.
const Magic = "atomic-selftest-probe/1"

// BinaryPath is where the binary sits inside the probe image.
const BinaryPath = "/atomic-selftest"

// Marker is what the probe reports from inside the container.
type Marker struct {
	Magic    string `json:"magic"`
	Nonce    string `json:"nonce"`
	PID      int    `json:"pid"`
	UID      int    `json:"uid"`
	Hostname string `json:"hostname"`
	// RootReadOnly is true when creating a file in / fails with EROFS.
	RootReadOnly bool `json:"root_read_only"`
	// Interfaces lists the network interfaces other than loopback.
	Interfaces []string `json:"interfaces"`
	// Seccomp is the Seccomp field of /proc/self/status: 0 none, 1
	// strict, 2 a filter; -1 when it could not be read.
	Seccomp int    `json:"seccomp"`
	Version string `json:"version,omitempty"`
}

// Inspect gathers the marker from inside the container.
func Inspect(nonce, version string) Marker {
	m := Marker{Magic: Magic, Nonce: nonce, PID: os.Getpid(), UID: os.Getuid(), Version: version}
	m.Hostname, _ = os.Hostname()
	f, err := os.OpenFile("/.atomic-selftest-probe-write", os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err == nil {
		f.Close()
		os.Remove(f.Name())
	} else {
		m.RootReadOnly = errors.Is(err, syscall.EROFS)
	}
	ifs, _ := net.Interfaces()
	m.Interfaces = []string{}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			m.Interfaces = append(m.Interfaces, i.Name)
		}
	}
	sort.Strings(m.Interfaces)
	m.Seccomp = seccompMode()
	return m
}

// seccompMode reads the Seccomp field of /proc/self/status (proc(5)).
func seccompMode() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			var n int
			if _, err := fmt.Sscan(strings.TrimSpace(v), &n); err == nil {
				return n
			}
		}
	}
	return -1
}

// Write prints the marker as one JSON line.
func Write(w io.Writer, m Marker) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// maxOutput bounds how much container output is searched for the marker.
const maxOutput = 1 << 20

// Parse finds the marker line in a container's output.
func Parse(out []byte) (Marker, error) {
	if len(out) > maxOutput {
		out = out[:maxOutput]
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), maxOutput)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if !bytes.HasPrefix(line, []byte("{")) || !bytes.Contains(line, []byte(Magic)) {
			continue
		}
		var m Marker
		if err := json.Unmarshal(line, &m); err != nil {
			return Marker{}, fmt.Errorf("garbled probe marker %q: %w", truncate(string(line)), err)
		}
		if m.Magic != Magic {
			continue
		}
		return m, nil
	}
	return Marker{}, fmt.Errorf("no probe marker in the container's output %q", truncate(string(out)))
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// Want is what the check asked of the sandbox.
type Want struct {
	Nonce     string
	ReadOnly  bool
	NoNetwork bool
	// Hostname, if set, is the host name the container was given.
	Hostname string
}

// Verify compares a marker with what was asked and returns each
// difference as a sentence; nil means the probe proved the sandbox.
func Verify(m Marker, w Want) []string {
	var p []string
	if m.Nonce != w.Nonce {
		p = append(p, fmt.Sprintf("nonce %q, expected %q: the output is not this run's container", m.Nonce, w.Nonce))
	}
	if m.PID != 1 {
		p = append(p, fmt.Sprintf("the probe ran as pid %d, expected pid 1 in its own pid namespace", m.PID))
	}
	if w.ReadOnly && !m.RootReadOnly {
		p = append(p, "the container's root filesystem is writable, expected read-only")
	}
	if w.NoNetwork && len(m.Interfaces) > 0 {
		p = append(p, fmt.Sprintf("the container has network interfaces %s, expected none but loopback", strings.Join(m.Interfaces, ", ")))
	}
	if w.Hostname != "" && m.Hostname != w.Hostname {
		p = append(p, fmt.Sprintf("container host name %q, expected %q", m.Hostname, w.Hostname))
	}
	return p
}

// NewNonce returns a fresh random nonce.
func NewNonce() string {
	var b [8]byte
	f, err := os.Open("/dev/urandom")
	if err == nil {
		_, err = io.ReadFull(f, b[:])
		f.Close()
	}
	if err != nil {
		return fmt.Sprintf("%x", time.Now().UnixNano())
	}
	return fmt.Sprintf("%x", b)
}

// WriteLayer writes the probe image's only layer to w: the binary at
// path, stored as BinaryPath with mode 0755 and a fixed mtime so the
// layer's digest depends on the binary only.
func WriteLayer(w io.Writer, binary string) error {
	f, err := os.Open(binary)
	if err != nil {
		return fmt.Errorf("opening probe binary: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("probe binary %s: %w", binary, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("probe binary %s is not a regular file", binary)
	}
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0).UTC()
	hdr := &tar.Header{
		Name:     strings.TrimPrefix(BinaryPath, "/"),
		Mode:     0o755,
		Size:     fi.Size(),
		ModTime:  epoch,
		Typeflag: tar.TypeReg,
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err != nil {
		return fmt.Errorf("copying probe binary: %w", err)
	}
	if n != fi.Size() {
		return fmt.Errorf("probe binary %s changed size while being read", binary)
	}
	return tw.Close()
}

// Binary returns the path of the binary to use as the probe: the running
// executable, which is the static atomic-selftest on a host.
func Binary() (string, error) {
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the atomic-selftest binary for the probe: %w", err)
	}
	return p, nil
}

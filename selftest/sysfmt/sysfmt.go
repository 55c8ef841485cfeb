// Package sysfmt reads small files the kernel and systemd keep about the
// running host: a watchdog's bootstatus (sysfs, the WDIOF_* flags of
// linux include/uapi/linux/watchdog.h), /etc/machine-id
// (machine-id(5)), the TCP socket tables /proc/net/tcp and tcp6
// (proc(5)) and sshd_config's Port lines (sshd_config(5)).
package sysfmt

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// WDIOFCardReset is the bootstatus flag a watchdog driver sets when the
// card reset the machine: the last boot was the watchdog's doing.
const WDIOFCardReset = 0x0020

// ParseBootstatus reads a watchdog's sysfs bootstatus: a decimal number
// of WDIOF_* flags.
func ParseBootstatus(b []byte) (uint32, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bootstatus %q is not a number", bytes.TrimSpace(b))
	}
	return uint32(v), nil
}

// ErrUninitialized is a machine-id of "uninitialized": systemd's mark
// that the first boot has not completed (machine-id(5)).
var ErrUninitialized = errors.New(`machine-id is "uninitialized": the first boot has not completed`)

// CheckMachineID checks /etc/machine-id's content: one line of 32
// lowercase hexadecimal digits, not all zero (machine-id(5)).
func CheckMachineID(b []byte) (string, error) {
	s := strings.TrimSuffix(string(b), "\n")
	switch {
	case s == "uninitialized":
		return s, ErrUninitialized
	case s == "":
		return s, errors.New("machine-id is empty")
	case len(s) != 32:
		return s, fmt.Errorf("machine-id %q is %d characters, not 32", s, len(s))
	case strings.Trim(s, "0123456789abcdef") != "":
		return s, fmt.Errorf("machine-id %q is not lowercase hexadecimal", s)
	case strings.Trim(s, "0") == "":
		return s, fmt.Errorf("machine-id is all zeros")
	}
	return s, nil
}

// TCPListen is the state number of a listening socket in /proc/net/tcp.
const TCPListen = 0x0A

// Socket is one row of /proc/net/tcp or tcp6.
type Socket struct {
	Local net.IP
	Port  int
	State int
}

// ParseNetTCP reads /proc/net/tcp or /proc/net/tcp6: a header line, then
// one socket per line, its local address as hex of the kernel's
// in-memory words ("0100007F:0016" is 127.0.0.1:22 on a little-endian
// machine) and its state in hex.
func ParseNetTCP(b []byte) ([]Socket, error) {
	var out []Socket
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if n == 1 || len(f) == 0 {
			continue // the header
		}
		if len(f) < 4 {
			return out, fmt.Errorf("line %d: %d fields, want at least 4", n, len(f))
		}
		addr, port, ok := strings.Cut(f[1], ":")
		if !ok {
			return out, fmt.Errorf("line %d: local address %q has no port", n, f[1])
		}
		ip, err := kernelIP(addr)
		if err != nil {
			return out, fmt.Errorf("line %d: %w", n, err)
		}
		p, err1 := strconv.ParseUint(port, 16, 16)
		st, err2 := strconv.ParseUint(f[3], 16, 8)
		if err1 != nil || err2 != nil {
			return out, fmt.Errorf("line %d: port %q or state %q is not hexadecimal", n, port, f[3])
		}
		out = append(out, Socket{Local: ip, Port: int(p), State: int(st)})
	}
	return out, sc.Err()
}

// kernelIP decodes the kernel's hex: 4 or 16 bytes, each 32-bit word
// in little-endian order (the machines atomic-selftest runs on).
func kernelIP(h string) (net.IP, error) {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, fmt.Errorf("address %q is not 8 or 32 hexadecimal digits", h)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b), nil
}

// SSHDPorts returns the ports of sshd_config's Port lines before any
// Match block (sshd_config(5): keywords are case-insensitive; the first
// value of a keyword wins, but Port may be given several times), or nil
// when there are none (sshd then listens on 22).
func SSHDPorts(b []byte) ([]int, error) {
	var ports []int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(strings.ReplaceAll(sc.Text(), "=", " "))
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "match":
			return ports, sc.Err()
		case "port":
			if len(f) < 2 {
				return ports, fmt.Errorf("line %d: Port without a number", n)
			}
			p, err := strconv.Atoi(f[1])
			if err != nil || p < 1 || p > 65535 {
				return ports, fmt.Errorf("line %d: Port %q is not a port number", n, f[1])
			}
			ports = append(ports, p)
		}
	}
	return ports, sc.Err()
}

package inventory

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/outer/ssh"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

// ParseHostArg reads a host argument: HOST, HOST:PORT, USER@HOST[:PORT] or
// [IPV6]:PORT.
func ParseHostArg(s string) (Host, error) {
	h := Host{Port: 22}
	if u, rest, ok := strings.Cut(s, "@"); ok {
		if u == "" {
			return h, fmt.Errorf("host %q: empty user before @", s)
		}
		h.User, s = u, rest
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port (or a bare IPv6 address).
		host, port = strings.Trim(s, "[]"), ""
	}
	if host == "" || strings.ContainsAny(host, " /\t") {
		return h, fmt.Errorf("host %q: want HOST, HOST:PORT or USER@HOST:PORT", s)
	}
	h.Name, h.Addr = host, host
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return h, fmt.Errorf("host %q: port %q is not a port", s, port)
		}
		h.Port = p
		if p != 22 {
			h.Name = net.JoinHostPort(host, port)
		}
	}
	return h, nil
}

// Machines builds one SSH machine per host; per-host user, port and key
// override base's.
func Machines(hosts []Host, base ssh.Config) ([]transport.Machine, error) {
	var out []transport.Machine
	seen := map[string]bool{}
	for _, h := range hosts {
		cfg := base
		cfg.Name = h.Name
		cfg.Addr = net.JoinHostPort(h.Addr, strconv.Itoa(h.Port))
		if h.User != "" {
			cfg.User = h.User
		}
		if h.KeyFile != "" {
			cfg.KeyFile = h.KeyFile
		}
		if seen[cfg.Name] {
			return nil, fmt.Errorf("host %s is named twice", cfg.Name)
		}
		seen[cfg.Name] = true
		m, err := ssh.New(cfg)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("host %s: %w", h.Name, err)
		}
		out = append(out, m)
	}
	return out, nil
}

package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
	"github.com/atomic-selftest/atomic-selftest/selftest/sysfmt"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.sshd",
		Criterion:   "HOST",
		Required:    true,
		Description: "where sshd is enabled in systemd, something listens on its port (/proc/net/tcp, tcp6): the host can still be reached",
		Timeout:     20 * time.Second,
		Applies:     selftest.NeedSystemd,
		Run:         checkSSHD,
	})
}

// sshdUnits are sshd's units: Fedora's names, then Debian's, each as a
// service or a socket (socket activation: systemd holds the listener).
var sshdUnits = []string{"sshd.service", "sshd.socket", "ssh.service", "ssh.socket"}

// checkSSHD asks systemd which of sshd's units is enabled, reads the
// ports sshd_config sets (22 when none), and looks for a listening socket
// on one of them in the kernel's TCP tables.
func checkSSHD(ctx context.Context, t *selftest.T) {
	sd, err := t.Host.Systemd(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	var enabled []string
	for _, n := range sshdUnits {
		u, err := sd.Unit(ctx, n)
		if err != nil {
			t.Error("%v", err)
			return
		}
		if u.UnitFileState == "enabled" || u.UnitFileState == "enabled-runtime" {
			enabled = append(enabled, n)
		}
	}
	if len(enabled) == 0 {
		t.Skip("sshd is not enabled (none of %s)", strings.Join(sshdUnits, ", "))
		return
	}
	ports, err := sshdPorts(t.Host)
	if err != nil {
		t.Error("%v", err)
		return
	}
	var listening []string
	for _, p := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := t.Host.ReadFile(p, rootfs.Kernel)
		if errors.Is(err, fs.ErrNotExist) {
			continue // no IPv6 in this kernel
		}
		if err != nil {
			t.Error("%v", err)
			return
		}
		socks, err := sysfmt.ParseNetTCP(b)
		if err != nil {
			t.Error("%s: %v", p, err)
			return
		}
		for _, s := range socks {
			if s.State == sysfmt.TCPListen && slices.Contains(ports, s.Port) {
				listening = append(listening, fmt.Sprintf("%s port %d", s.Local, s.Port))
			}
		}
	}
	t.Evidence("listening on sshd's port "+fmt.Sprint(ports), "at least one socket", strings.Join(listening, ", "))
	if len(listening) == 0 {
		t.Fail("%s is enabled, but nothing listens on port %s (/proc/net/tcp, /proc/net/tcp6): the host cannot be reached over ssh", strings.Join(enabled, ", "), joinPorts(ports))
		return
	}
	t.Pass("%s is enabled and listens: %s", strings.Join(enabled, ", "), strings.Join(listening, ", "))
}

// sshdPorts reads the Port lines of /etc/ssh/sshd_config and its drop-in
// directory (which Fedora's sshd_config includes), 22 when none is set.
func sshdPorts(h *selftest.Host) ([]int, error) {
	files := []string{}
	if ents, err := h.ReadDir("/etc/ssh/sshd_config.d"); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".conf") {
				files = append(files, "/etc/ssh/sshd_config.d/"+e.Name())
			}
		}
	}
	files = append(files, "/etc/ssh/sshd_config")
	var ports []int
	for _, f := range files {
		b, err := h.ReadFile(f, rootfs.Config)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p, err := sysfmt.SSHDPorts(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		ports = append(ports, p...)
	}
	if len(ports) == 0 {
		ports = []int{22}
	}
	return ports, nil
}

func joinPorts(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, " or ")
}

// Package selinuxhost is what the selinux.* checks share: SELinux's mode
// as the kernel runs it and as the host configured it, read through the
// host's file door.
package selinuxhost

import (
	"context"
	"errors"
	"io/fs"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
	"github.com/atomic-selftest/atomic-selftest/selftest/selinuxfmt"
)

// Paths of selinuxfs's enforce file, the configuration and the kernel's
// command line.
const (
	EnforcePath = "/sys/fs/selinux/enforce"
	ConfigPath  = "/etc/selinux/config"
	CmdlinePath = "/proc/cmdline"
)

// State is SELinux on this host.
type State struct {
	// Running is the kernel's mode: enforcing, permissive, or disabled
	// when selinuxfs has no enforce file (SELinux is off in the kernel).
	Running string
	// Config is /etc/selinux/config, nil when the file is missing.
	Config *selinuxfmt.Config
	// Cmdline is the kernel command line's say ("enforcing=0",
	// "selinux=0"), empty when it says nothing: it wins over the file.
	Cmdline string
}

// Read reads the state; an unreadable or malformed file is an error
// naming it.
func Read(h *selftest.Host) (State, error) {
	var st State
	b, err := h.ReadFile(EnforcePath, rootfs.Kernel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st.Running = selinuxfmt.Disabled
	case err != nil:
		return st, err
	default:
		if st.Running, err = selinuxfmt.ParseEnforce(b); err != nil {
			return st, errors.New(EnforcePath + ": " + err.Error())
		}
	}
	b, err = h.ReadFile(ConfigPath, rootfs.Config)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return st, err
	default:
		c, err := selinuxfmt.ParseConfig(b)
		if err != nil {
			return st, errors.New(ConfigPath + ": " + err.Error())
		}
		st.Config = &c
	}
	if b, err := h.ReadFile(CmdlinePath, rootfs.Kernel); err == nil {
		for _, f := range strings.Fields(string(b)) {
			if f == "selinux=0" || f == "enforcing=0" || f == "enforcing=1" {
				st.Cmdline = f
			}
		}
	}
	return st, nil
}

// Off is the skip reason when SELinux is neither running nor configured,
// "" otherwise.
func (st State) Off() string {
	if st.Running != selinuxfmt.Disabled {
		return ""
	}
	if st.Config == nil {
		return "SELinux is off: the kernel has no " + EnforcePath + " and there is no " + ConfigPath
	}
	if st.Config.Mode == selinuxfmt.Disabled {
		return "SELinux is off: disabled in " + ConfigPath + " and in the kernel"
	}
	return ""
}

// NeedConfigured is the applicability test of selinux.mode: SELinux runs
// or is configured to.
func NeedConfigured(_ context.Context, rc *selftest.RunContext) string {
	st, err := Read(rc.Host)
	if err != nil {
		return "" // the check reports the error
	}
	// A kernel built with SELinux mounts selinuxfs and reads permissive
	// before any policy is loaded: on a distribution that installs no
	// SELinux policy (Debian's default; the testbed VM, whose /etc/selinux
	// holds only libsemanage's semanage.conf) there is nothing to compare
	// the mode with.
	if st.Config == nil && st.Running == selinuxfmt.Permissive && !policyInstalled(rc.Host) {
		return "SELinux is not set up on this host: the kernel reads permissive, and no policy or " + ConfigPath + " is installed"
	}
	return st.Off()
}

// policyInstalled tells whether a policy store is installed:
// /etc/selinux/<type>/policy, as selinux-policy packages lay it out.
func policyInstalled(h *selftest.Host) bool {
	entries, err := h.ReadDir("/etc/selinux")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.IsDir() && h.Exists("/etc/selinux/"+e.Name()+"/policy") {
			return true
		}
	}
	return false
}

// NeedRunning is the applicability test of a check of what SELinux
// decided: the kernel runs it.
func NeedRunning(_ context.Context, rc *selftest.RunContext) string {
	st, err := Read(rc.Host)
	if err != nil {
		return ""
	}
	if st.Running == selinuxfmt.Disabled {
		return "SELinux is off in the kernel (no " + EnforcePath + "): nothing is denied"
	}
	return ""
}

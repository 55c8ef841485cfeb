package cloudinithost

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/provisioner"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// NeedCloudInit skips on a host Ignition provisioned, where cloud-init is not
// installed or is disabled, and,
// with cloudinit.require_virtualized, on bare metal.
func NeedCloudInit(ctx context.Context, h *selftest.RunContext) string {
	// Fedora CoreOS and the other Ignition-provisioned successors may
	// carry cloud-init's files without running it: Ignition's result
	// file or its kernel arguments say who provisioned the host.
	if how := provisioner.Ignition(h.Host); how != "" {
		return "provisioned by Ignition (" + how + "), not cloud-init: ignition.provisioned judges it"
	}
	installed := false
	for _, p := range []string{"/usr/bin/cloud-init", CloudCfg} {
		if h.Exists(p) {
			installed = true
		}
	}
	if !installed {
		return "cloud-init is not installed (no /usr/bin/cloud-init, no " + CloudCfg + ")"
	}
	if h.Exists(DisabledFile) {
		return "cloud-init is disabled (" + DisabledFile + " exists)"
	}
	if !h.Offline {
		if b, err := h.ReadFile("/proc/cmdline", rootfs.Kernel); err == nil {
			for _, w := range strings.Fields(string(b)) {
				if w == "cloud-init=disabled" {
					return "cloud-init is disabled (cloud-init=disabled on the kernel command line)"
				}
			}
		}
	}
	if h.Config.Cloudinit.RequireVirtualized && !h.Offline {
		virt, how := Virtualization(ctx, h.Host)
		if virt == "none" {
			return "the host is not virtualised (" + how + "); cloud-init is checked on virtualised images only (cloudinit.require_virtualized)"
		}
	}
	return ""
}

// ContainerTypes are the values of systemd's Virtualization property
// (and of systemd-detect-virt) that name containers, not virtual
// machines (systemd's virt.c): C7 is about virtualised images, and a
// container has no cloud seed to be configured from.
var ContainerTypes = map[string]bool{
	"openvz": true, "lxc": true, "lxc-libvirt": true, "systemd-nspawn": true, "docker": true,
	"podman": true, "rkt": true, "wsl": true, "proot": true, "pouch": true, "container-other": true,
}

// Virtualization asks systemd (the Manager's Virtualization property)
// and falls back to systemd-detect-virt, which reports the same. Both name
// the innermost environment, a container before the VM it may run in. It
// returns "none" on bare metal and in containers, and says how it found
// out; where neither can answer it returns "" (unknown: the checks run).
func Virtualization(ctx context.Context, h *selftest.Host) (string, string) {
	v, how := "", ""
	if sd, err := h.Systemd(ctx); err == nil {
		if m, err := sd.Manager(ctx); err == nil {
			v, how = m.Virtualization, "systemd's Virtualization property"
			if v == "" {
				v = "none"
			}
		}
	}
	if how == "" {
		out, err := h.Run(ctx, 10*time.Second, "systemd-detect-virt")
		v = strings.TrimSpace(string(out))
		var ee *selftest.ExitError
		// systemd-detect-virt prints "none" and exits 1 on bare metal.
		if err != nil && !(errors.As(err, &ee) && v == "none") {
			return "", ""
		}
		how = "systemd-detect-virt"
	}
	if ContainerTypes[v] {
		return "none", how + " says container " + v + ", not a virtual machine"
	}
	return v, how + ": " + v
}

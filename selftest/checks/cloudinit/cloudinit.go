// Package cloudinit owns the cloud-init checks (C7): cloud-init ran to
// the end on this boot without errors (cloudinit.finished), and what the
// user asked for was done: the ssh keys are in the users' authorized_keys
// (cloudinit.sshkey), the host name is set (cloudinit.hostname), the user
// scripts ran (cloudinit.scripts).
//
// What was asked is read from cloud-init's own records, never from the
// cloud: /run/cloud-init and /var/lib/cloud/data (status.json,
// result.json), /run/cloud-init/instance-data.json (18.3 and later), the
// instance directory /var/lib/cloud/instance (cloud-config.txt,
// scripts/, sem/, boot-finished), the NoCloud seed (17.x), and
// /etc/cloud/cloud.cfg(.d) for the default user. The formats follow
// cloud-init 17.1 (what Fedora Atomic shipped) and 26.2; see records.go.
// Every read is bounded and symbolic links are resolved inside the root,
// so a hostile or broken tree is a finding, never a crash.
package cloudinit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

func init() {
	for _, c := range []*selftest.Check{
		{ID: "cloudinit.finished", Description: "cloud-init ran all its stages to the end on this boot with no errors (status.json, result.json, boot-finished)", Run: checkFinished},
		{ID: "cloudinit.sshkey", Description: "every ssh key the user-data and the datasource asked for is in the user's authorized_keys", Run: checkSSHKey},
		{ID: "cloudinit.hostname", Description: "the running host name is the one the user-data or the datasource asked for", Run: checkHostname},
		{ID: "cloudinit.scripts", Description: "every user script and runcmd ran (per-instance semaphores) and none failed", Run: checkScripts},
	} {
		c.Criterion = "C7"
		c.Required = true
		c.Timeout = 30 * time.Second
		c.Applies = applies
		// The records can be read from an image that booted once; the
		// running host name cannot.
		c.Offline = c.ID != "cloudinit.hostname"
		// No dependency on cloudinit.finished: a failed user script fails
		// that check too, and cloudinit.scripts must still name it.
		selftest.Register(c)
	}
}

// Paths cloud-init uses (cloudinit/helpers.py Paths, cloudinit/cmd/main.py).
const (
	runDir       = "/run/cloud-init"
	dataDir      = "/var/lib/cloud/data"
	instanceDir  = "/var/lib/cloud/instance"
	seedDir      = "/var/lib/cloud/seed"
	cloudCfg     = "/etc/cloud/cloud.cfg"
	cloudCfgD    = "/etc/cloud/cloud.cfg.d"
	disabledFile = "/etc/cloud/cloud-init.disabled"
	logFile      = "/var/log/cloud-init.log"
)

// applies skips where cloud-init is not installed or is disabled, and,
// with cloudinit.require_virtualized, on bare metal.
func applies(ctx context.Context, h *selftest.Host) string {
	installed := false
	for _, p := range []string{"/usr/bin/cloud-init", cloudCfg} {
		if h.Exists(p) {
			installed = true
		}
	}
	if !installed {
		return "cloud-init is not installed (no /usr/bin/cloud-init, no " + cloudCfg + ")"
	}
	if h.Exists(disabledFile) {
		return "cloud-init is disabled (" + disabledFile + " exists)"
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
		virt, how := virtualization(ctx, h)
		if virt == "none" {
			return "the host is not virtualised (" + how + "); cloud-init is checked on virtualised images only (cloudinit.require_virtualized)"
		}
	}
	return ""
}

// containerTypes are the values of systemd's Virtualization property
// (and of systemd-detect-virt) that name containers, not virtual
// machines (systemd's virt.c): C7 is about virtualised images, and a
// container has no cloud seed to be configured from.
var containerTypes = map[string]bool{
	"openvz": true, "lxc": true, "lxc-libvirt": true, "systemd-nspawn": true, "docker": true,
	"podman": true, "rkt": true, "wsl": true, "proot": true, "pouch": true, "container-other": true,
}

// virtualization asks systemd (the Manager's Virtualization property)
// and falls back to systemd-detect-virt, which reports the same. Both name
// the innermost environment, a container before the VM it may run in. It
// returns "none" on bare metal and in containers, and says how it found
// out; where neither can answer it returns "" (unknown: the checks run).
func virtualization(ctx context.Context, h *selftest.Host) (string, string) {
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
	if containerTypes[v] {
		return "none", how + " says container " + v + ", not a virtual machine"
	}
	return v, how + ": " + v
}

// tree reads cloud-init's records through the host's confined file API.
type tree struct{ h *selftest.Host }

// read returns a record's bytes, at most the limit for state records; a
// missing file is (nil, nil).
func (r tree) read(p string) ([]byte, error) {
	b, err := r.h.ReadFile(p, rootfs.State)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (r tree) exists(p string) (bool, error) {
	_, err := r.h.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// list returns the names in a directory; a missing one is empty.
func (r tree) list(p string) ([]string, error) {
	ents, err := r.h.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", p, err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names, nil
}

// status reads status.json: this boot's under /run/cloud-init on a live
// host (a tmpfs, so it is this boot's), else /var/lib/cloud/data's.
func (r tree) status() (*Status, string, error) {
	return parseFirst(r, "status.json", ParseStatus)
}

func (r tree) result() (*Result, string, error) {
	return parseFirst(r, "result.json", ParseResult)
}

func parseFirst[T any](r tree, name string, parse func([]byte) (*T, error)) (*T, string, error) {
	dirs := []string{runDir, dataDir}
	if r.h.Offline {
		dirs = []string{dataDir}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		b, err := r.read(p)
		if err != nil {
			return nil, p, err
		}
		if b == nil {
			continue
		}
		v, err := parse(b)
		if err != nil {
			return nil, p, fmt.Errorf("%s: %w", p, err)
		}
		return v, p, nil
	}
	return nil, "", nil
}

// cloudConfig reads the instance's merged user-data cloud-config; nil
// when the user-data had none.
func (r tree) cloudConfig() (*CloudConfig, error) {
	p := instanceDir + "/cloud-config.txt"
	b, err := r.read(p)
	if err != nil || b == nil {
		return nil, err
	}
	c, err := ParseCloudConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// instanceData reads /run/cloud-init/instance-data.json; nil before
// cloud-init 18.3 or offline.
func (r tree) instanceData() (*InstanceData, error) {
	if r.h.Offline {
		return nil, nil
	}
	p := runDir + "/instance-data.json"
	b, err := r.read(p)
	if err != nil || b == nil {
		return nil, err
	}
	d, err := ParseInstanceData(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return d, nil
}

// seedMetaData reads the NoCloud seed's meta-data, where one was kept.
func (r tree) seedMetaData() (*SeedMetaData, string, error) {
	for _, d := range []string{"nocloud", "nocloud-net"} {
		p := seedDir + "/" + d + "/meta-data"
		b, err := r.read(p)
		if err != nil {
			return nil, p, err
		}
		if b == nil {
			continue
		}
		m, err := ParseSeedMetaData(b)
		if err != nil {
			return nil, p, fmt.Errorf("%s: %w", p, err)
		}
		return m, p, nil
	}
	return nil, "", nil
}

// defaultUser is the default user's name: the user-data's "user", else
// system_info.default_user.name of cloud.cfg and then cloud.cfg.d/*.cfg
// in lexical order, the last one winning (cloud-init's merge order).
func (r tree) defaultUser(cc *CloudConfig) (string, string, error) {
	if cc != nil && cc.DefaultUser != "" {
		return cc.DefaultUser, instanceDir + "/cloud-config.txt", nil
	}
	files := []string{cloudCfg}
	names, err := r.list(cloudCfgD)
	if err != nil {
		return "", "", err
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".cfg") {
			files = append(files, cloudCfgD+"/"+n)
		}
	}
	var user, from string
	for _, f := range files {
		b, err := r.read(f)
		if err != nil {
			return "", "", err
		}
		if b == nil {
			continue
		}
		c, err := ParseCloudConfig(b)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", f, err)
		}
		if c.DefaultUser != "" {
			user, from = c.DefaultUser, f
		}
	}
	return user, from, nil
}

// Package cloudinithost is what the cloudinit.* checks share: where
// cloud-init keeps its records on a host (Tree, read through the host's
// confined file API and parsed with selftest/cloudinitfmt) and whether
// cloud-init applies to the host at all (NeedCloudInit).
package cloudinithost

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/cloudinitfmt"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// Paths cloud-init uses (cloudinit/helpers.py Paths, cloudinit/cmd/main.py).
const (
	RunDir       = "/run/cloud-init"
	DataDir      = "/var/lib/cloud/data"
	InstanceDir  = "/var/lib/cloud/instance"
	SeedDir      = "/var/lib/cloud/seed"
	CloudCfg     = "/etc/cloud/cloud.cfg"
	CloudCfgD    = "/etc/cloud/cloud.cfg.d"
	DisabledFile = "/etc/cloud/cloud-init.disabled"
	LogFile      = "/var/log/cloud-init.log"
)

// Tree reads cloud-init's records through the host's confined file API.
type Tree struct{ H *selftest.Host }

// read returns a record's bytes, at most the limit for state records; a
// missing file is (nil, nil).
func (r Tree) Read(p string) ([]byte, error) {
	b, err := r.H.ReadFile(p, rootfs.State)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (r Tree) Exists(p string) (bool, error) {
	_, err := r.H.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// list returns the names in a directory; a missing one is empty.
func (r Tree) List(p string) ([]string, error) {
	ents, err := r.H.ReadDir(p)
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
func (r Tree) Status() (*cloudinitfmt.Status, string, error) {
	return parseFirst(r, "status.json", cloudinitfmt.ParseStatus)
}

func (r Tree) Result() (*cloudinitfmt.Result, string, error) {
	return parseFirst(r, "result.json", cloudinitfmt.ParseResult)
}

func parseFirst[T any](r Tree, name string, parse func([]byte) (*T, error)) (*T, string, error) {
	dirs := []string{RunDir, DataDir}
	if r.H.Offline {
		dirs = []string{DataDir}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		b, err := r.Read(p)
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
func (r Tree) CloudConfig() (*cloudinitfmt.CloudConfig, error) {
	p := InstanceDir + "/cloud-config.txt"
	b, err := r.Read(p)
	if err != nil || b == nil {
		return nil, err
	}
	c, err := cloudinitfmt.ParseCloudConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}

// instanceData reads /run/cloud-init/instance-data.json; nil before
// cloud-init 18.3 or offline.
func (r Tree) InstanceData() (*cloudinitfmt.InstanceData, error) {
	if r.H.Offline {
		return nil, nil
	}
	p := RunDir + "/instance-data.json"
	b, err := r.Read(p)
	if err != nil || b == nil {
		return nil, err
	}
	d, err := cloudinitfmt.ParseInstanceData(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return d, nil
}

// seedMetaData reads the NoCloud seed's meta-data, where one was kept.
func (r Tree) SeedMetaData() (*cloudinitfmt.SeedMetaData, string, error) {
	for _, d := range []string{"nocloud", "nocloud-net"} {
		p := SeedDir + "/" + d + "/meta-data"
		b, err := r.Read(p)
		if err != nil {
			return nil, p, err
		}
		if b == nil {
			continue
		}
		m, err := cloudinitfmt.ParseSeedMetaData(b)
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
func (r Tree) DefaultUser(cc *cloudinitfmt.CloudConfig) (string, string, error) {
	if cc != nil && cc.DefaultUser != "" {
		return cc.DefaultUser, InstanceDir + "/cloud-config.txt", nil
	}
	files := []string{CloudCfg}
	names, err := r.List(CloudCfgD)
	if err != nil {
		return "", "", err
	}
	for _, n := range names {
		if strings.HasSuffix(n, ".cfg") {
			files = append(files, CloudCfgD+"/"+n)
		}
	}
	var user, from string
	for _, f := range files {
		b, err := r.Read(f)
		if err != nil {
			return "", "", err
		}
		if b == nil {
			continue
		}
		c, err := cloudinitfmt.ParseCloudConfig(b)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", f, err)
		}
		if c.DefaultUser != "" {
			user, from = c.DefaultUser, f
		}
	}
	return user, from, nil
}

package cloudinit

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

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

// Package config owns atomic-selftest's configuration: TOML files in
// /usr/lib/atomic-selftest/config.d (vendor) overlaid by
// /etc/atomic-selftest/config.d (admin), read in that order and, within a
// directory, in lexical order of file name. A later file's scalar keys
// replace earlier ones; check lists (disable, demote) accumulate, and
// `enable` takes a check back out of `disable`.
//
// Every area owns one section. Unknown keys and bad values are errors that
// name the file and the key.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Directories read by default, vendor first.
var (
	VendorDir = "/usr/lib/atomic-selftest/config.d"
	AdminDir  = "/etc/atomic-selftest/config.d"
)

// Config is the merged configuration.
type Config struct {
	Checks       Checks       `toml:"checks"`
	Results      Results      `toml:"results"`
	Runtime      Runtime      `toml:"runtime"`
	Storage      Storage      `toml:"storage"`
	Syscontainer Syscontainer `toml:"syscontainer"`
	Cloudinit    Cloudinit    `toml:"cloudinit"`
	Deployment   Deployment   `toml:"deployment"`

	// Files lists the files that were read, in order.
	Files []string `toml:"-"`
	// DisabledBy and DemotedBy map a check id to the file that named it.
	DisabledBy map[string]string `toml:"-"`
	DemotedBy  map[string]string `toml:"-"`
}

// Checks selects and weighs checks.
type Checks struct {
	// Disable lists checks that are not run (reported as skipped).
	Disable []string `toml:"disable"`
	// Enable takes checks back out of an earlier file's Disable.
	Enable []string `toml:"enable"`
	// Demote lists required checks that only count as wanted here.
	Demote []string `toml:"demote"`
	// RunTimeout bounds a whole run.
	RunTimeout Duration `toml:"run_timeout"`
}

// Results controls what is kept under the results directory.
type Results struct {
	// Keep is how many run records are kept; older ones are pruned.
	Keep int `toml:"keep"`
	// LockTimeout is how long a run waits for another run to finish.
	LockTimeout Duration `toml:"lock_timeout"`
}

// Runtime names the container runtime the checks talk to.
type Runtime struct {
	// Socket is the Engine API's unix socket.
	Socket string `toml:"socket"`
	// Unit is the runtime's systemd service.
	Unit string `toml:"unit"`
	// MaxRestarts is the NRestarts above which the service counts as
	// restarting in a loop.
	MaxRestarts int `toml:"max_restarts"`
	// PingTimeout bounds the daemon's answer to a ping.
	PingTimeout Duration `toml:"ping_timeout"`
}

// Storage holds the container storage thresholds.
type Storage struct {
	// DataPercent and MetadataPercent are the highest thin pool usage
	// that still passes.
	DataPercent     float64 `toml:"data_percent"`
	MetadataPercent float64 `toml:"metadata_percent"`
}

// Syscontainer configures the system container checks.
type Syscontainer struct {
	// Image is the reference syscontainer.atomic pulls; empty turns it off.
	Image string `toml:"image"`
	// Name is the name syscontainer.atomic installs it under.
	Name string `toml:"name"`
	// Runc is the runc binary.
	Runc string `toml:"runc"`
	// StartTimeout bounds how long a system container may take to start.
	StartTimeout Duration `toml:"start_timeout"`
}

// Cloudinit configures the cloud-init checks.
type Cloudinit struct {
	// RequireVirtualized skips the cloud-init checks on bare metal.
	RequireVirtualized bool `toml:"require_virtualized"`
}

// Deployment configures the deployment checks.
type Deployment struct {
	// Stateroot limits the checks to one OS name; empty means the booted.
	Stateroot string `toml:"stateroot"`
	// RPMDBPath is the rpm database deployment.expected asks with
	// `rpm -q --dbpath`; empty means rpm's own default (on rpm-ostree
	// hosts /usr/share/rpm through rpm's macros).
	RPMDBPath string `toml:"rpm_dbpath"`
}

// Defaults returns the built-in configuration.
func Defaults() *Config {
	return &Config{
		Checks:       Checks{RunTimeout: Duration(10 * time.Minute)},
		Results:      Results{Keep: 100, LockTimeout: Duration(5 * time.Minute)},
		Runtime:      Runtime{Socket: "/run/docker.sock", Unit: "docker.service", MaxRestarts: 3, PingTimeout: Duration(5 * time.Second)},
		Storage:      Storage{DataPercent: 90, MetadataPercent: 90},
		Syscontainer: Syscontainer{Runc: "runc", StartTimeout: Duration(60 * time.Second)},
		Cloudinit:    Cloudinit{RequireVirtualized: true},
		DisabledBy:   map[string]string{},
		DemotedBy:    map[string]string{},
	}
}

// Load reads the default directories under root ("/" on a live host).
func Load(root string) (*Config, error) {
	return LoadDirs(filepath.Join(root, VendorDir), filepath.Join(root, AdminDir))
}

// LoadDirs reads *.toml from each directory in order over the defaults. A
// missing directory is not an error.
func LoadDirs(dirs ...string) (*Config, error) {
	cfg := Defaults()
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading configuration directory %s: %w", dir, err)
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".toml") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			if err := cfg.loadFile(filepath.Join(dir, n)); err != nil {
				return nil, err
			}
		}
	}
	return cfg, nil
}

// loadFile overlays one file.
func (c *Config) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading configuration %s: %w", path, err)
	}
	// Lists accumulate across files: decode them apart from the scalars.
	prev := c.Checks
	c.Checks.Disable, c.Checks.Enable, c.Checks.Demote = nil, nil, nil
	md, err := toml.Decode(string(data), c)
	if err != nil {
		c.Checks = prev
		return fmt.Errorf("configuration %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		c.Checks = prev
		return fmt.Errorf("configuration %s: unknown key %s", path, strings.Join(keys, ", "))
	}
	if err := c.validate(path); err != nil {
		c.Checks = prev
		return err
	}
	for _, id := range c.Checks.Disable {
		c.DisabledBy[id] = path
	}
	for _, id := range c.Checks.Enable {
		delete(c.DisabledBy, id)
	}
	for _, id := range c.Checks.Demote {
		c.DemotedBy[id] = path
	}
	c.Checks.Disable = union(prev.Disable, c.Checks.Disable, c.Checks.Enable)
	c.Checks.Demote = union(prev.Demote, c.Checks.Demote, nil)
	c.Checks.Enable = nil
	c.Files = append(c.Files, path)
	return nil
}

func union(a, b, minus []string) []string {
	seen := map[string]bool{}
	for _, m := range minus {
		seen[m] = true
	}
	var out []string
	for _, l := range [][]string{a, b} {
		for _, s := range l {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

func (c *Config) validate(path string) error {
	bad := func(key string, format string, args ...any) error {
		return fmt.Errorf("configuration %s: %s: %s", path, key, fmt.Sprintf(format, args...))
	}
	if c.Results.Keep < 1 {
		return bad("results.keep", "must be at least 1, got %d", c.Results.Keep)
	}
	for key, v := range map[string]float64{"storage.data_percent": c.Storage.DataPercent, "storage.metadata_percent": c.Storage.MetadataPercent} {
		if v <= 0 || v > 100 {
			return bad(key, "must be a percentage above 0 and at most 100, got %g", v)
		}
	}
	for key, d := range map[string]Duration{
		"checks.run_timeout": c.Checks.RunTimeout, "results.lock_timeout": c.Results.LockTimeout,
		"runtime.ping_timeout": c.Runtime.PingTimeout, "syscontainer.start_timeout": c.Syscontainer.StartTimeout,
	} {
		if d < 0 {
			return bad(key, "must not be negative")
		}
	}
	if c.Runtime.MaxRestarts < 0 {
		return bad("runtime.max_restarts", "must not be negative, got %d", c.Runtime.MaxRestarts)
	}
	if c.Runtime.Socket == "" || !filepath.IsAbs(c.Runtime.Socket) {
		return bad("runtime.socket", "must be an absolute path, got %q", c.Runtime.Socket)
	}
	if p := c.Deployment.RPMDBPath; p != "" && !filepath.IsAbs(p) {
		return bad("deployment.rpm_dbpath", "must be an absolute path, got %q", p)
	}
	if c.Runtime.Unit == "" {
		return bad("runtime.unit", "must not be empty")
	}
	return nil
}

// CheckIDs validates the check ids named in the configuration against the
// known ones, naming the file of an unknown id.
func (c *Config) CheckIDs(known func(id string) bool) error {
	for id, file := range c.DisabledBy {
		if !known(id) {
			return fmt.Errorf("configuration %s: checks.disable: unknown check %q", file, id)
		}
	}
	for id, file := range c.DemotedBy {
		if !known(id) {
			return fmt.Errorf("configuration %s: checks.demote: unknown check %q", file, id)
		}
	}
	return nil
}

// Duration is a time.Duration written as a Go duration string ("90s").
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. \"90s\" or \"5m\")", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

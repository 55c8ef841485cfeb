package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// [site] and [policy]: per-file timeouts accumulate across files (a later
// file's value for a name wins), policy lists are replaced by a later
// file, bad values name the file and the key.
func TestSiteAndPolicy(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "10-vendor.toml", "[site]\ntimeout = \"30s\"\n[site.timeouts]\napp = \"5m\"\nslow = \"2m\"\n[policy]\nunits = [\"a.service\"]\n")
	write(t, dir, "20-admin.toml", "[site]\ngreenboot = true\n[site.timeouts]\nslow = \"10m\"\n[policy]\nunits = [\"app.service\", \"data.mount\"]\npackages = [\"my-agent\"]\nabsent_packages = [\"telnet-server\"]\n")
	c, err := LoadDirs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Site.Timeout.D() != 30*time.Second || !c.Site.Greenboot || c.Site.Timeouts["app"].D() != 5*time.Minute || c.Site.Timeouts["slow"].D() != 10*time.Minute {
		t.Errorf("site: %+v", c.Site)
	}
	if !slices.Equal(c.Policy.Units, []string{"app.service", "data.mount"}) || !slices.Equal(c.Policy.Packages, []string{"my-agent"}) || !slices.Equal(c.Policy.AbsentPackages, []string{"telnet-server"}) {
		t.Errorf("policy: %+v", c.Policy)
	}
	for name, tc := range map[string]struct{ data, want string }{
		"zero timeout":      {"[site]\ntimeout = \"0s\"\n", "site.timeout: must be above zero"},
		"negative per file": {"[site.timeouts]\napp = \"-1s\"\n", "site.timeouts.app: must be above zero"},
		"bad unit":          {"[policy]\nunits = [\"not a unit\"]\n", `policy.units: "not a unit" is not a systemd unit name`},
		"option package":    {"[policy]\npackages = [\"--all\"]\n", `policy.packages: "--all" is not a package name`},
		"unknown key":       {"[policy]\nservices = [\"a.service\"]\n", "unknown key policy.services"},
	} {
		d := t.TempDir()
		write(t, d, "bad.toml", tc.data)
		_, err := LoadDirs(d)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(d, "bad.toml")) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want the file and %q", name, err, tc.want)
		}
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeConf puts name with content into dir.
func writeConf(t *testing.T, dir, name, content string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRuntimeStorageOverlay: vendor then admin files, in lexical order
// within each directory; later scalar keys win.
func TestRuntimeStorageOverlay(t *testing.T) {
	dir := t.TempDir()
	vendor, admin := filepath.Join(dir, "vendor"), filepath.Join(dir, "admin")
	writeConf(t, vendor, "05-engine.toml", "[runtime]\nengine = \"podman\"\npodman_socket = \"/run/user/0/podman/podman.sock\"\n")
	writeConf(t, vendor, "10-runtime.toml", "[runtime]\nsocket = \"/run/podman/podman.sock\"\nunit = \"podman.socket\"\n[storage]\ndata_percent = 80\n")
	writeConf(t, admin, "50-site.toml", "[runtime]\nping_timeout = \"2s\"\nmax_restarts = 0\natomic = \"/usr/local/bin/atomic\"\n[storage]\ndata_percent = 95.5\ndriver = \"overlay2\"\nsetup_unit = \"container-storage-setup.service\"\n[checks]\ndemote = [\"runtime.atomic-run\"]\ndisable = [\"storage.driver\"]\n")
	cfg, err := LoadDirs(vendor, admin)
	if err != nil {
		t.Fatal(err)
	}
	r, s := cfg.Runtime, cfg.Storage
	if r.Engine != "podman" || r.PodmanSocket != "/run/user/0/podman/podman.sock" || r.PodmanUnit != "podman.socket" {
		t.Errorf("runtime engine %q, podman socket %q, unit %q", r.Engine, r.PodmanSocket, r.PodmanUnit)
	}
	if r.Socket != "/run/podman/podman.sock" || r.Unit != "podman.socket" || r.PingTimeout.D() != 2*time.Second || r.MaxRestarts != 0 || r.Atomic != "/usr/local/bin/atomic" {
		t.Errorf("runtime %+v", r)
	}
	if s.DataPercent != 95.5 || s.MetadataPercent != 90 || s.Driver != "overlay2" || s.SetupUnit != "container-storage-setup.service" {
		t.Errorf("storage %+v", s)
	}
	if !strings.HasSuffix(cfg.DemotedBy["runtime.atomic-run"], "50-site.toml") || !strings.HasSuffix(cfg.DisabledBy["storage.driver"], "50-site.toml") {
		t.Errorf("demoted %v disabled %v", cfg.DemotedBy, cfg.DisabledBy)
	}
	d := Defaults()
	if d.Runtime.Socket != "/run/docker.sock" || d.Runtime.Unit != "docker.service" || d.Runtime.Atomic != "atomic" || d.Storage.SetupUnit != "docker-storage-setup.service" || d.Storage.DataPercent != 90 {
		t.Errorf("defaults %+v %+v", d.Runtime, d.Storage)
	}
}

// TestRuntimeStorageBad: unknown keys and bad values are errors that name
// the file and the key.
func TestRuntimeStorageBad(t *testing.T) {
	for _, tc := range []struct {
		content string
		key     string
	}{
		{"[runtime]\nsockett = \"/x\"\n", "runtime.sockett"},
		{"[storage]\nthin_pool = \"x\"\n", "storage.thin_pool"},
		{"[runtime]\nsocket = \"docker.sock\"\n", "runtime.socket"},
		{"[runtime]\nsocket = \"\"\n", "runtime.socket"},
		{"[runtime]\nunit = \"docker\"\n", "runtime.unit"},
		{"[runtime]\nengine = \"rkt\"\n", "runtime.engine"},
		{"[runtime]\nengine = \"\"\n", "runtime.engine"},
		{"[runtime]\npodman_socket = \"podman.sock\"\n", "runtime.podman_socket"},
		{"[runtime]\npodman_unit = \"podman\"\n", "runtime.podman_unit"},
		{"[runtime]\npodman_unit = \"\"\n", "runtime.podman_unit"},
		{"[runtime]\nping_timeout = \"5 seconds\"\n", "ping_timeout"},
		{"[runtime]\nping_timeout = \"0s\"\n", "runtime.ping_timeout"},
		{"[runtime]\nping_timeout = \"-1s\"\n", "runtime.ping_timeout"},
		{"[runtime]\nmax_restarts = -1\n", "runtime.max_restarts"},
		{"[runtime]\nmax_restarts = \"three\"\n", "max_restarts"},
		{"[runtime]\natomic = \"bin/atomic\"\n", "runtime.atomic"},
		{"[runtime]\natomic = \"\"\n", "runtime.atomic"},
		{"[storage]\ndata_percent = 0\n", "storage.data_percent"},
		{"[storage]\nmetadata_percent = 101\n", "storage.metadata_percent"},
		{"[storage]\ndriver = \"Overlay 2\"\n", "storage.driver"},
		{"[storage]\nsetup_unit = \"\"\n", "storage.setup_unit"},
		{"[storage]\nruntime_unit_file = \"docker\"\n", "storage.runtime_unit_file"},
	} {
		dir := t.TempDir()
		writeConf(t, dir, "10-good.toml", "[storage]\ndata_percent = 70\n")
		bad := writeConf(t, dir, "20-bad.toml", tc.content)
		_, err := LoadDirs(dir)
		if err == nil {
			t.Errorf("%q loaded", tc.content)
			continue
		}
		if !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%q: error %q does not name %s and %s", tc.content, err, bad, tc.key)
		}
	}
}

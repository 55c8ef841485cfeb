package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOverlay(t *testing.T) {
	root := t.TempDir()
	vendor, admin := filepath.Join(root, VendorDir), filepath.Join(root, AdminDir)
	write(t, vendor, "10-vendor.toml", "[checks]\ndisable = [\"a.one\", \"a.two\"]\n[results]\nkeep = 50\n")
	write(t, admin, "20-admin.toml", "[checks]\nenable = [\"a.two\"]\ndemote = [\"a.three\"]\nrun_timeout = \"90s\"\n[results]\nkeep = 7\n")
	write(t, admin, "README", "not toml, ignored")
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if c.Results.Keep != 7 || c.Checks.RunTimeout.D() != 90*time.Second {
		t.Errorf("scalars: keep %d timeout %s", c.Results.Keep, c.Checks.RunTimeout.D())
	}
	if _, ok := c.DisabledBy["a.one"]; !ok || len(c.DisabledBy) != 1 {
		t.Errorf("disabled: %v (a.two was enabled again by the admin)", c.DisabledBy)
	}
	if !strings.HasSuffix(c.DemotedBy["a.three"], "20-admin.toml") {
		t.Errorf("demoted: %v", c.DemotedBy)
	}
	// Untouched keys keep their defaults.
	if c.Runtime.Unit != "docker.service" || c.Storage.DataPercent != 90 {
		t.Errorf("defaults lost: %+v %+v", c.Runtime, c.Storage)
	}
	if err := c.CheckIDs(func(id string) bool { return id != "a.one" }); err == nil || !strings.Contains(err.Error(), `10-vendor.toml: checks.disable: unknown check "a.one"`) {
		t.Errorf("CheckIDs: %v", err)
	}
}

func TestErrorsNameFileAndKey(t *testing.T) {
	for name, tc := range map[string]struct{ data, want string }{
		"unknown key":           {"[results]\nkepe = 3\n", "unknown key results.kepe"},
		"unknown section":       {"[rumtime]\nsocket = \"/x\"\n", "unknown key rumtime"},
		"bad duration":          {"[checks]\nrun_timeout = \"ten minutes\"\n", `bad duration "ten minutes"`},
		"wrong type":            {"[results]\nkeep = \"many\"\n", "results.keep"},
		"out of range":          {"[storage]\ndata_percent = 120\n", "storage.data_percent: must be a percentage"},
		"relative socket":       {"[runtime]\nsocket = \"docker.sock\"\n", "runtime.socket: must be an absolute path"},
		"syntax":                {"[results\n", "bad.toml"},
		"relative textfile dir": {"[report]\ntextfile_dir = \"prom\"\n", "report.textfile_dir: must be an absolute path"},
	} {
		dir := t.TempDir()
		write(t, dir, "bad.toml", tc.data)
		_, err := LoadDirs(dir)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "bad.toml")) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want the file and %q", name, err, tc.want)
		}
	}
}

// [journal] allow must be regular expressions and [units] a sane
// threshold; the error names the file and the key.
func TestSignalsKeys(t *testing.T) {
	for body, want := range map[string]string{
		"[journal]\nallow = [\"ok\", \"(\"]\n": "journal.allow: entry 1, \"(\", is not a regular expression",
		"[journal]\nmax_entries = 5\n":         "journal.max_entries: must be from 100 to 1000000, got 5",
		"[units]\nmax_restarts = -1\n":         "units.max_restarts: must not be negative",
		"[units]\nmax_restart = 1\n":           "unknown key units.max_restart",
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, "50-site.toml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadDirs(dir)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: error %v, want one naming %s and %q", body, err, p, want)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.toml"), []byte("[journal]\nallow = [\"^kernel: WARNING: .* at drivers/gpu/\"]\n[units]\nmax_restarts = 5\nignore = [\"flaky.service\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadDirs(dir)
	if err != nil || cfg.Units.MaxRestarts != 5 || len(cfg.Journal.Allow) != 1 || cfg.Units.Ignore[0] != "flaky.service" || cfg.Journal.MaxEntries != 20000 {
		t.Fatalf("%+v %+v %v", cfg.Journal, cfg.Units, err)
	}
}

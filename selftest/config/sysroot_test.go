package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// Under run --sysroot the image's own configuration is read through the
// confined door. Repro (issue 17): an image whose config.d/a.toml linked
// to /etc/shadow made Load quote a parse error of the live host's shadow
// file; a huge file was read whole.
func TestLoadImageConfigStaysInImage(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "live-host.toml")
	if err := os.WriteFile(outside, []byte("LIVE-HOST-MARKER = ["), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, file string)
		want  string
	}{
		{"absolute link out", func(t *testing.T, file string) {
			if err := os.Symlink(outside, file); err != nil {
				t.Fatal(err)
			}
		}, "no such file or directory"},
		{"relative link out", func(t *testing.T, file string) {
			if err := os.Symlink("../../../../../../../../.."+outside, file); err != nil {
				t.Fatal(err)
			}
		}, "no such file or directory"},
		{"sparse 1 GB file", func(t *testing.T, file string) {
			if err := os.WriteFile(file, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(file, 1<<30); err != nil {
				t.Fatal(err)
			}
		}, "larger than the 1 MiB limit for configuration files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, VendorDir)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tc.plant(t, filepath.Join(dir, "a.toml"))
			_, err := Load(root)
			if err == nil {
				t.Fatal("Load accepted the planted file")
			}
			msg := err.Error()
			if strings.Contains(msg, "LIVE-HOST-MARKER") || !strings.Contains(msg, VendorDir+"/a.toml") || !strings.Contains(msg, tc.want) {
				t.Errorf("Load: %v\nwant the image path %s/a.toml and %q, never the live host's file", err, VendorDir, tc.want)
			}
			if tc.name == "sparse 1 GB file" && !errors.Is(err, rootfs.ErrTooLarge) {
				t.Errorf("Load: %v does not wrap rootfs.ErrTooLarge", err)
			}
		})
	}
}

// An image is data under test (issue 24 item 1): under --sysroot, what
// judges the image comes from its files, what the run does on this host
// and which checks judge it from this host's. Repro: an image with
// [results] keep = 1 pruned the live results directory, its [report]
// textfile_dir made root write where the image said, its [checks]
// disable turned a failing image into a pass, and its [health] could ask
// this host to act.
func TestLoadForImageKeepsHostKeys(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, VendorDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	image := `[results]
keep = 1
[report]
textfile_dir = "/var/lib/node_exporter/elsewhere"
[checks]
disable = ["ostree.bootloader", "host.tree"]
demote = ["storage.config"]
[health]
on_failure = "rollback"
[storage]
driver = "devicemapper"
`
	if err := os.WriteFile(filepath.Join(dir, "50-image.toml"), []byte(image), 0o644); err != nil {
		t.Fatal(err)
	}
	host, err := Load("/")
	if err != nil {
		t.Fatal(err)
	}
	img, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	if img.Results.Keep != 1 || img.Report.TextfileDir == "" || len(img.Checks.Disable) != 2 {
		t.Fatalf("the image's own file was not read: %+v", img)
	}
	c, err := LoadFor(root)
	if err != nil {
		t.Fatal(err)
	}
	if c.Results != host.Results || c.Report.TextfileDir != host.Report.TextfileDir || c.Health.OnFailure != host.Health.OnFailure {
		t.Errorf("results %+v, report %+v, health %q: want this host's %+v, %+v, %q", c.Results, c.Report, c.Health.OnFailure, host.Results, host.Report, host.Health.OnFailure)
	}
	if len(c.Checks.Disable) != len(host.Checks.Disable) || c.DisabledBy["host.tree"] != "" || len(c.Checks.Demote) != len(host.Checks.Demote) {
		t.Errorf("the image chose the checks: disable %v demote %v", c.Checks.Disable, c.Checks.Demote)
	}
	if c.Storage.Driver != "devicemapper" {
		t.Errorf("storage.driver %q: what judges the image comes from it", c.Storage.Driver)
	}
	live, err := LoadFor("/")
	if err != nil || live.Results != host.Results {
		t.Errorf("LoadFor(/) = %+v, %v: want the host's own", live, err)
	}
}

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

package storageconf

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// containers-storage's configuration for rootful podman (containers/storage
// types/options.go and docs/containers-storage.conf.5.md): the vendor file
// /usr/share/containers/storage.conf, replaced as a whole (not merged) by
// /etc/containers/storage.conf where that exists. Without either, the
// library's built-in defaults apply: no driver (the first of its priority
// list that works here, overlay on a sound file system), graphroot
// /var/lib/containers/storage, runroot /run/containers/storage.
const (
	StorageConfVendor = "/usr/share/containers/storage.conf"
	StorageConfAdmin  = "/etc/containers/storage.conf"
	DefaultGraphRoot  = "/var/lib/containers/storage"
	DefaultRunRoot    = "/run/containers/storage"
)

// StorageConf is what containers-storage reads: the [storage] table's
// driver, graphroot and runroot, and [storage.options.overlay].
type StorageConf struct {
	// File is the file read, "" when neither exists (the built-in
	// defaults). Shadowed is the vendor file an admin file replaced.
	File     string `json:"file,omitempty"`
	Shadowed string `json:"shadowed,omitempty"`
	// Driver is the configured driver, "" for the library's choice;
	// overlay2 is containers-storage's alias of overlay and is read as
	// overlay.
	Driver    string            `json:"driver"`
	GraphRoot string            `json:"graphroot"`
	RunRoot   string            `json:"runroot"`
	Overlay   map[string]string `json:"overlay_options,omitempty"`
	// Problems are the file's own contradictions.
	Problems []string `json:"problems,omitempty"`
}

// ReadStorageConf reads containers-storage's configuration through the
// door. A file that is not TOML is an error naming it.
func ReadStorageConf(files rootfs.FS) (*StorageConf, error) {
	sc := &StorageConf{GraphRoot: DefaultGraphRoot, RunRoot: DefaultRunRoot}
	var data []byte
	for _, p := range []string{StorageConfAdmin, StorageConfVendor} {
		b, err := files.ReadFile(p, rootfs.Config)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if sc.File == "" {
			sc.File, data = p, b
		} else {
			sc.Shadowed = p
		}
	}
	if sc.File == "" {
		return sc, nil
	}
	var f struct {
		Storage struct {
			Driver    string `toml:"driver"`
			GraphRoot string `toml:"graphroot"`
			RunRoot   string `toml:"runroot"`
			Options   struct {
				Overlay map[string]any `toml:"overlay"`
			} `toml:"options"`
		} `toml:"storage"`
	}
	if _, err := toml.Decode(string(data), &f); err != nil {
		return nil, fmt.Errorf("%s is not valid TOML: %w", sc.File, err)
	}
	s := f.Storage
	sc.Driver = s.Driver
	if sc.Driver == "overlay2" {
		sc.Driver = "overlay"
	}
	if s.GraphRoot != "" {
		sc.GraphRoot = s.GraphRoot
	}
	if s.RunRoot != "" {
		sc.RunRoot = s.RunRoot
	}
	for k, v := range s.Options.Overlay {
		if sc.Overlay == nil {
			sc.Overlay = map[string]string{}
		}
		sc.Overlay[k] = fmt.Sprint(v)
	}
	for _, kv := range [][2]string{{"graphroot", sc.GraphRoot}, {"runroot", sc.RunRoot}} {
		if !filepath.IsAbs(kv[1]) {
			sc.Problems = append(sc.Problems, fmt.Sprintf("%s [storage] %s = %q is not an absolute path", sc.File, kv[0], kv[1]))
		}
	}
	if sc.GraphRoot == sc.RunRoot {
		sc.Problems = append(sc.Problems, fmt.Sprintf("%s puts graphroot and runroot in the same directory %s", sc.File, sc.GraphRoot))
	}
	return sc, nil
}

// From says where the configuration came from, for messages.
func (sc *StorageConf) From() string {
	switch {
	case sc.File == "":
		return fmt.Sprintf("containers-storage's built-in defaults (neither %s nor %s exists)", StorageConfAdmin, StorageConfVendor)
	case sc.Shadowed != "":
		return fmt.Sprintf("%s (which replaces %s)", sc.File, sc.Shadowed)
	}
	return sc.File
}

// WantDriver is the driver podman must use when the self-test's
// [storage] driver is selfDriver: that one where set (overlay2 read as
// overlay, containers-storage's alias), else sc's, else "" (the
// library's choice); and where that demand comes from.
func (sc *StorageConf) WantDriver(selfDriver string) (driver, from string) {
	if selfDriver != "" {
		if selfDriver == "overlay2" {
			selfDriver = "overlay"
		}
		return selfDriver, "the self-test's [storage] driver"
	}
	return sc.Driver, sc.From()
}

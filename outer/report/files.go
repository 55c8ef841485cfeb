package report

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes data to dir/name atomically: a temporary file in dir,
// fsync, rename over name, fsync of dir. A reader (or a driver stopped
// at any instant) sees the old file or the whole new one, never a part.
// The files are the operator's (0600): they may quote a host's journal.
func WriteFile(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Join(dir, name), err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Join(dir, name), err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

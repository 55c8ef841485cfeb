// Package rootfs reads files of a host that may be mounted under a root
// prefix (--sysroot) the way the booted host would see them: symbolic
// links, absolute or relative, are resolved inside the root, a loop is an
// error, and every read is bounded so a huge or hostile file is a finding
// rather than a crash or an exhausted memory.
package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrTooLarge is wrapped by errors about files over the allowed size.
var ErrTooLarge = errors.New("too large")

// MaxHops bounds symbolic links followed while resolving a path under the
// root (the kernel's own limit is 40).
const MaxHops = 40

// Resolve returns the host path p resolved under root: every symbolic
// link, absolute or relative, is followed inside root, as it would be on
// the booted host (cloud-init links /var/lib/cloud/instance to an absolute
// path). A loop or a chain longer than MaxHops is an error naming p.
func Resolve(root, p string) (string, error) {
	if root == "" {
		root = "/"
	}
	rest := strings.Split(strings.Trim(filepath.Clean("/"+p), "/"), "/")
	cur := "/"
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if c == "" || c == "." {
			continue
		}
		if c == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			// A missing component: the rest cannot be links either.
			return filepath.Join(append([]string{root, next}, rest...)...), nil
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		hops++
		if hops > MaxHops {
			return "", fmt.Errorf("%s: too many levels of symbolic links (a loop?)", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
	}
	return filepath.Join(root, cur), nil
}

// openRegular opens a regular file for reading. O_NONBLOCK keeps a FIFO
// planted where a record should be from blocking the open; anything but a
// regular file is refused.
func openRegular(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// ReadBounded reads a regular file of at most max bytes.
func ReadBounded(path string, max int64) ([]byte, error) {
	f, _, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, ErrTooLarge, max)
	}
	return b, nil
}

// ReadTail reads at most the last max bytes of a regular file.
func ReadTail(path string, max int64) ([]byte, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if off := size - max; off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(f, max))
}

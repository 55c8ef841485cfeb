package selftest

import (
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// The methods below are the one door through which checks read the
// host's files (selftest/rootfs): every path is a host path resolved
// inside Root, links and `..` never lead out of it, FIFOs, sockets and
// device nodes are refused without blocking, and every read is bounded by
// the limit of its kind (rootfs.Kind, one table in rootfs/limits.go).

// Files returns the host's file system inside Root.
func (h *Host) Files() rootfs.FS { return rootfs.FS{Root: h.Root} }

// ReadFile reads host file p, at most the limit of kind k.
func (h *Host) ReadFile(p string, k rootfs.Kind) ([]byte, error) { return h.Files().ReadFile(p, k) }

// ReadTail reads the end of host file p, at most the limit of kind k.
func (h *Host) ReadTail(p string, k rootfs.Kind) ([]byte, error) { return h.Files().ReadTail(p, k) }

// Stat stats host path p, following links inside Root.
func (h *Host) Stat(p string) (fs.FileInfo, error) { return h.Files().Stat(p) }

// Lstat stats host path p without following a link at its end.
func (h *Host) Lstat(p string) (fs.FileInfo, error) { return h.Files().Lstat(p) }

// Exists reports whether host path p exists (links followed inside Root).
func (h *Host) Exists(p string) bool { return h.Files().Exists(p) }

// ReadDir lists host directory p, sorted by name and bounded.
func (h *Host) ReadDir(p string) ([]fs.DirEntry, error) { return h.Files().ReadDir(p) }

// Readlink returns the target of the link at host path p, as written.
func (h *Host) Readlink(p string) (string, error) { return h.Files().Readlink(p) }

// Statfs is statfs(2) of host path p, resolved inside Root first (statfs
// takes a path, not a descriptor).
func (h *Host) Statfs(p string) (unix.Statfs_t, error) {
	var sf unix.Statfs_t
	rp, err := h.Files().Resolve(p)
	if err != nil {
		return sf, err
	}
	if err := unix.Statfs(rp, &sf); err != nil {
		return sf, &fs.PathError{Op: "statfs", Path: p, Err: err}
	}
	return sf, nil
}

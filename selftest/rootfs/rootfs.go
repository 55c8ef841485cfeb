// Package rootfs is the one door through which the self-test reads a
// host's files, whether the host is the running system (root "/") or an
// image or sysroot mounted under a directory (--sysroot DIR). It reads
// them the way the booted host would see them: symbolic links, absolute
// or relative, are resolved inside the root and `..` stops at the root,
// so no path, link or missing component leads out of it; FIFOs, sockets
// and device nodes are refused without blocking; and every read is
// bounded by the limit table in limits.go, so a huge or hostile file is a
// finding naming the file and the limit rather than a crash, a hang or an
// exhausted memory.
package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// ErrTooLarge is wrapped by errors about files over their limit.
var ErrTooLarge = errors.New("too large")

// MaxHops bounds symbolic links followed while resolving a path under the
// root (the kernel's own limit is 40).
const MaxHops = 40

// TooLargeError is a file or directory over the limit of its kind.
type TooLargeError struct {
	// Path is the host path, as the host sees it.
	Path string
	Kind Kind
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("reading %s: larger than the %s limit for %s", e.Path, limitText(e.Kind), e.Kind)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// FS is a host's file system seen from inside Root. Every method takes a
// host path (absolute as the host sees it, "/etc/hostname") and never
// touches a file outside Root. The zero value reads the live host.
type FS struct {
	// Root is "/" on a live host, or the directory given with --sysroot.
	Root string
}

func (r FS) root() string {
	if r.Root == "" {
		return "/"
	}
	return r.Root
}

// Resolve returns the host path p resolved under the root, with the root
// prefix: every symbolic link is followed inside the root. See Resolve.
func (r FS) Resolve(p string) (string, error) { return Resolve(r.root(), p) }

// Resolve returns the host path p resolved under root: every symbolic
// link, absolute or relative, is followed inside root, as it would be on
// the booted host (cloud-init links /var/lib/cloud/instance to an absolute
// path), and `..` never climbs above root. A path through a missing
// component resolves lexically when nothing after it climbs back (so the
// caller sees "does not exist" on a path inside root) and is an
// fs.ErrNotExist error when something does, as the kernel would answer:
// joining a `..` onto the unresolved rest is how a link escaped before.
// A loop or a chain longer than MaxHops is an error naming p.
func Resolve(root, p string) (string, error) {
	if root == "" {
		root = "/"
	}
	rest := split(p)
	cur := "/"
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur) // path.Dir("/") is "/": clamped at the root
			continue
		}
		next := path.Join(cur, c)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			// A missing component (or one that is not a directory): the
			// rest cannot be looked up either.
			for _, r := range rest {
				if r == ".." {
					return "", &fs.PathError{Op: "resolve", Path: p, Err: fs.ErrNotExist}
				}
			}
			return filepath.Join(append([]string{root, next}, rest...)...), nil
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		hops++
		if hops > MaxHops {
			return "", fmt.Errorf("resolving %s: too many levels of symbolic links (a loop?)", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", fmt.Errorf("resolving %s: %w", p, err)
		}
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		rest = append(split(target), rest...)
	}
	return filepath.Join(root, cur), nil
}

func split(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// clean makes p an absolute, clean host path.
func clean(p string) string { return path.Clean("/" + p) }

// Stat returns the file info of host path p, following links inside the
// root.
func (r FS) Stat(p string) (fs.FileInfo, error) {
	rp, err := r.Resolve(p)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(rp)
	if err != nil {
		return nil, hostErr("stat", p, err)
	}
	return fi, nil
}

// Exists reports whether host path p exists (following links inside the
// root).
func (r FS) Exists(p string) bool {
	_, err := r.Stat(p)
	return err == nil
}

// Lstat returns the file info of host path p itself: a link is not
// followed, its directory is.
func (r FS) Lstat(p string) (fs.FileInfo, error) {
	dir, err := r.parent(p)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, hostErr("lstat", p, err)
	}
	return fi, nil
}

// Readlink returns the target of the symbolic link at host path p, as
// written (an absolute target is relative to the root).
func (r FS) Readlink(p string) (string, error) {
	dir, err := r.parent(p)
	if err != nil {
		return "", err
	}
	t, err := os.Readlink(dir)
	if err != nil {
		return "", hostErr("readlink", p, err)
	}
	return t, nil
}

// parent resolves p's directory and joins p's last name onto it
// unresolved, for the calls that look at a link itself.
func (r FS) parent(p string) (string, error) {
	p = clean(p)
	if p == "/" {
		return r.root(), nil
	}
	dir, err := r.Resolve(path.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, path.Base(p)), nil
}

// hostErr names the host path in an os error instead of the prefixed one.
func hostErr(op, p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}

// open resolves p and opens it for reading when it is of type want (0
// for a regular file, fs.ModeDir for a directory). The type is checked
// with lstat before the open, so a device node is never opened, and again
// with fstat after it, on a descriptor opened with O_NOFOLLOW|O_NONBLOCK:
// a FIFO swapped in between neither blocks the open nor is read.
func (r FS) open(p string, want fs.FileMode) (*os.File, fs.FileInfo, error) {
	rp, err := r.Resolve(p)
	if err != nil {
		return nil, nil, err
	}
	fi, err := os.Lstat(rp)
	if err != nil {
		return nil, nil, hostErr("open", p, err)
	}
	if err := checkType(p, fi, want); err != nil {
		return nil, nil, err
	}
	flags := os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if want == fs.ModeDir {
		flags |= syscall.O_DIRECTORY
	}
	f, err := os.OpenFile(rp, flags, 0)
	if err != nil {
		return nil, nil, hostErr("open", p, err)
	}
	fi, err = f.Stat()
	if err == nil {
		err = checkType(p, fi, want)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

func checkType(p string, fi fs.FileInfo, want fs.FileMode) error {
	if fi.Mode().Type() == want {
		return nil
	}
	what := "not a regular file"
	if want == fs.ModeDir {
		what = "not a directory"
	}
	return fmt.Errorf("reading %s: %s (%s)", p, what, typeName(fi.Mode()))
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsRegular():
		return "a regular file"
	}
	return "an irregular file"
}

// ReadFile reads the regular file at host path p, at most the limit of
// kind k; a longer file is a *TooLargeError naming p and the limit.
func (r FS) ReadFile(p string, k Kind) ([]byte, error) {
	f, fi, err := r.open(p, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	max := Limit(k)
	// The size is known for a regular file; files under /proc say 0, so
	// the read itself is bounded too.
	if fi.Size() > max {
		return nil, &TooLargeError{Path: p, Kind: k}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, hostErr("read", p, err)
	}
	if int64(len(b)) > max {
		return nil, &TooLargeError{Path: p, Kind: k}
	}
	return b, nil
}

// ReadTail reads at most the last Limit(k) bytes of the regular file at
// host path p.
func (r FS) ReadTail(p string, k Kind) ([]byte, error) {
	f, fi, err := r.open(p, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	max := Limit(k)
	if off := fi.Size() - max; off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return nil, hostErr("seek", p, err)
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil, hostErr("read", p, err)
	}
	return b, nil
}

// ReadDir lists the directory at host path p sorted by name, like
// os.ReadDir, at most Limit(Directory) entries; a longer listing is a
// *TooLargeError.
func (r FS) ReadDir(p string) ([]fs.DirEntry, error) {
	f, _, err := r.open(p, fs.ModeDir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	max := int(Limit(Directory))
	var all []fs.DirEntry
	for {
		ents, err := f.ReadDir(1024)
		all = append(all, ents...)
		if len(all) > max {
			return nil, &TooLargeError{Path: p, Kind: Directory}
		}
		if err == io.EOF || (err == nil && len(ents) == 0) {
			break
		}
		if err != nil {
			return nil, hostErr("readdir", p, err)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name() < all[j].Name() })
	return all, nil
}

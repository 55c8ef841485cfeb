package ociimage

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

func goarch() string { return runtime.GOARCH }

// whiteoutPrefix and opaqueWhiteout mark deletions in a layer
// (image-spec layer.md, "Whiteouts").
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// untar extracts one layer (a tar, optionally gzip-compressed) into root.
// Entries may not leave root: absolute names and ".." are cleaned into it,
// and an entry under a symbolic link that the layer made is refused, so a
// hostile layer cannot write outside the bundle. Device nodes are refused:
// a probe image has none and they would be a way out. budget is the number
// of bytes still allowed and is decreased by every file written.
func untar(r io.Reader, root string, budget *int64) error {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer zr.Close()
		in = zr
	}
	tr := tar.NewReader(in)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		rel := filepath.Clean("/" + hdr.Name)
		if rel == "/" {
			continue
		}
		target := filepath.Join(root, rel)
		if err := noSymlinkParents(root, rel); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		base := filepath.Base(rel)
		if base == opaqueWhiteout {
			if err := clearDir(filepath.Dir(target)); err != nil {
				return err
			}
			continue
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			victim, err := whiteoutTarget(root, filepath.Dir(target), strings.TrimPrefix(base, whiteoutPrefix))
			if err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			if err := os.RemoveAll(victim); err != nil {
				return err
			}
			continue
		}
		mode := os.FileMode(hdr.Mode).Perm() | os.FileMode(hdr.Mode)&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode); err != nil {
				return err
			}
		case tar.TypeReg:
			if hdr.Size > *budget {
				return fmt.Errorf("entry %q: the layers unpack to more than the allowed size", hdr.Name)
			}
			*budget -= hdr.Size
			os.RemoveAll(target)
			f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
		case tar.TypeSymlink:
			os.RemoveAll(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			src := filepath.Join(root, filepath.Clean("/"+hdr.Linkname))
			if err := noSymlinkParents(root, filepath.Clean("/"+hdr.Linkname)); err != nil {
				return fmt.Errorf("entry %q: %w", hdr.Name, err)
			}
			os.RemoveAll(target)
			if err := os.Link(src, target); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q: type %q is not allowed in a probe image", hdr.Name, hdr.Typeflag)
		}
		if err := os.Lchown(target, hdr.Uid, hdr.Gid); err != nil && !errors.Is(err, os.ErrPermission) {
			return err
		}
	}
}

// whiteoutTarget returns the path a whiteout of name in dir deletes. The
// deleted entry must lie strictly inside root: ".wh." (an empty name),
// ".wh.." (the directory itself) and ".wh..." (its parent) would delete
// the directory holding the whiteout or, at the top of the layer, root or
// the bundle around it.
func whiteoutTarget(root, dir, name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("a whiteout must name an entry inside the unpack root, not %q", name)
	}
	victim := filepath.Join(dir, name)
	rel, err := filepath.Rel(root, victim)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("a whiteout must name an entry inside the unpack root, not %q", name)
	}
	return victim, nil
}

// noSymlinkParents refuses a path whose parent directories include a
// symbolic link inside root.
func noSymlinkParents(root, rel string) error {
	dir := filepath.Dir(rel)
	p := root
	for _, c := range strings.Split(strings.Trim(dir, "/"), "/") {
		if c == "" {
			continue
		}
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("its parent %s is a symbolic link", strings.TrimPrefix(p, root))
		}
	}
	return nil
}

func clearDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

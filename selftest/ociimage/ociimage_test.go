package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.podman.io/image/v5/types"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
)

// layerOf writes a tar of the given entries.
func layerOf(entries ...*tar.Header) func(io.Writer) error {
	return func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, h := range entries {
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if h.Typeflag == tar.TypeReg {
				tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
			}
		}
		return tw.Close()
	}
}

func reg(name string, size int64) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: size}
}

// roundTrip writes a layout, copies it to a second layout with Copy and
// unpacks the copy.
func roundTrip(t *testing.T, layer func(io.Writer) error, max int64) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if _, err := WriteLayout(filepath.Join(dir, "a"), "t", layer, Config{Entrypoint: []string{"/x"}}); err != nil {
		t.Fatal(err)
	}
	src, _ := ParseReference("oci:" + filepath.Join(dir, "a") + ":t")
	dst, _ := ParseReference("oci:" + filepath.Join(dir, "b") + ":t")
	if _, err := Copy(context.Background(), nil, src, dst); err != nil {
		t.Fatal(err)
	}
	im, err := Open(context.Background(), nil, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if got := im.Config.Config.Entrypoint; len(got) != 1 || got[0] != "/x" {
		t.Fatalf("entrypoint %v", got)
	}
	rootfs := filepath.Join(dir, "rootfs")
	os.Mkdir(rootfs, 0o755)
	return rootfs, im.Unpack(context.Background(), rootfs, max)
}

func TestRoundTrip(t *testing.T) {
	rootfs, err := roundTrip(t, layerOf(
		&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		reg("etc/a", 10),
		&tar.Header{Name: "etc/b", Typeflag: tar.TypeSymlink, Linkname: "a"},
		&tar.Header{Name: "etc/c", Typeflag: tar.TypeLink, Linkname: "etc/a"},
	), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(rootfs, "etc/b"))
	if err != nil || len(b) != 10 {
		t.Fatalf("etc/b: %q %v", b, err)
	}
}

// A hostile layer cannot write outside the rootfs, nor make devices, nor
// unpack past the size bound.
func TestUnpackRefuses(t *testing.T) {
	outside := t.TempDir()
	for _, c := range []struct {
		name  string
		layer func(io.Writer) error
		want  string
	}{
		{"through a link", layerOf(
			&tar.Header{Name: "esc", Typeflag: tar.TypeSymlink, Linkname: outside},
			reg("esc/pwned", 1),
		), `entry "esc/pwned": its parent /esc is a symbolic link`},
		{"a device", layerOf(&tar.Header{Name: "dev/sda", Typeflag: tar.TypeBlock, Devmajor: 8}), `entry "dev/sda": type '4' is not allowed`},
		{"too large", layerOf(reg("big", 2048)), `entry "big": the layers unpack to more than the allowed size`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := roundTrip(t, c.layer, 1024)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if ents, _ := os.ReadDir(outside); len(ents) > 0 {
				t.Fatalf("wrote outside: %v", ents)
			}
		})
	}
	// ".." and absolute names are kept inside.
	rootfs, err := roundTrip(t, layerOf(reg("../../up", 1), reg("/abs", 1)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"up", "abs"} {
		if _, err := os.Stat(filepath.Join(rootfs, n)); err != nil {
			t.Errorf("%s not inside the rootfs: %v", n, err)
		}
	}
}

// A gzip-compressed layer with whiteouts unpacks like the image-spec says.
func TestGzipAndWhiteouts(t *testing.T) {
	root := t.TempDir()
	budget := int64(1 << 20)
	var l1 bytes.Buffer
	layerOf(reg("a/keep", 1), reg("a/drop", 1), reg("b/x", 1))(&l1)
	if err := untar(&l1, root, &budget); err != nil {
		t.Fatal(err)
	}
	var l2 bytes.Buffer
	zw := gzip.NewWriter(&l2)
	layerOf(reg("a/.wh.drop", 0), reg("b/.wh..wh..opq", 0), reg("b/y", 1))(zw)
	zw.Close()
	if err := untar(&l2, root, &budget); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]bool{"a/keep": true, "a/drop": false, "b/x": false, "b/y": true} {
		if _, err := os.Stat(filepath.Join(root, n)); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", n, err == nil, want)
		}
	}
}

// A whiteout must name an entry inside the unpack root. Repro (issue 17
// item 6): on the old code ".wh..." at the top of a layer removed the
// parent of the rootfs, the bundle with its config.json; ".wh.." and
// ".wh." removed the rootfs or the directory holding them.
func TestWhiteoutOutsideRefused(t *testing.T) {
	for _, name := range []string{".wh...", ".wh..", ".wh.", "a/.wh..", "a/.wh...", "a/.wh."} {
		t.Run(name, func(t *testing.T) {
			bundle := t.TempDir()
			config := filepath.Join(bundle, "config.json")
			if err := os.WriteFile(config, []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
			root := filepath.Join(bundle, "rootfs")
			budget := int64(1 << 20)
			var l bytes.Buffer
			layerOf(reg("a/keep", 1), reg(name, 0))(&l)
			err := untar(&l, root, &budget)
			want := fmt.Sprintf("entry %q: a whiteout must name an entry inside the unpack root", name)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want %q", err, want)
			}
			for _, p := range []string{config, filepath.Join(root, "a/keep")} {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("the whiteout %s deleted %s: %v", name, p, err)
				}
			}
		})
	}
}

// A blob whose content does not match its digest fails the copy with
// ErrDigest naming the blob.
func TestCopyCorruptBlob(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteLayout(dir, "t", layerOf(reg("f", 4096)), Config{}); err != nil {
		t.Fatal(err)
	}
	blobs, _ := filepath.Glob(filepath.Join(dir, "blobs/sha256/*"))
	var big string
	var size int64
	for _, b := range blobs {
		if fi, _ := os.Stat(b); fi.Size() > size {
			big, size = b, fi.Size()
		}
	}
	f, _ := os.OpenFile(big, os.O_RDWR, 0)
	f.WriteAt([]byte("y"), 600)
	f.Close()
	src, _ := ParseReference("oci:" + dir + ":t")
	dst, _ := ParseReference("oci:" + t.TempDir() + ":t")
	_, err := Copy(context.Background(), nil, src, dst)
	if !errors.Is(err, ErrDigest) || !strings.Contains(err.Error(), "blob sha256:"+filepath.Base(big)) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseReference(t *testing.T) {
	for _, bad := range []string{"busybox", "dir:/x", "docker:busybox"} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// Push to and pull from a real registry (docker-registry on loopback).
func TestRegistryRoundTrip(t *testing.T) {
	addr := os.Getenv("ATOMIC_SELFTEST_REGISTRY")
	testutil.Need(t, "registry", addr != "", "ATOMIC_SELFTEST_REGISTRY is not set")
	dir := t.TempDir()
	if _, err := WriteLayout(filepath.Join(dir, "a"), "t", layerOf(reg("f", 100)), Config{Entrypoint: []string{"/f"}}); err != nil {
		t.Fatal(err)
	}
	sys := &types.SystemContext{DockerInsecureSkipTLSVerify: types.OptionalBoolTrue}
	src, _ := ParseReference("oci:" + filepath.Join(dir, "a") + ":t")
	remote, err := ParseReference("docker://" + addr + "/atomic-selftest/ociimage-test:" + filepath.Base(dir))
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := Copy(context.Background(), sys, src, remote)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	back, _ := ParseReference("oci:" + filepath.Join(dir, "b") + ":t")
	pulled, err := Copy(context.Background(), sys, remote, back)
	if err != nil || pulled != pushed {
		t.Fatalf("pull: %v (digest %s, pushed %s)", err, pulled, pushed)
	}
}

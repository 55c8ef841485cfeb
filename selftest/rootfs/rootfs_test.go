package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestResolve(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "a/b"), 0o755)
	os.Symlink("/a", filepath.Join(root, "abs"))       // absolute: stays in root
	os.Symlink("../..", filepath.Join(root, "a/b/up")) // climbs no higher than root
	os.Symlink("loop2", filepath.Join(root, "loop1"))
	os.Symlink("loop1", filepath.Join(root, "loop2"))
	for in, want := range map[string]string{
		"/abs/b":             root + "/a/b",
		"/a/b/up/a/b/up/etc": root + "/etc",
		"/../../etc":         root + "/etc",
		"/missing/x/y":       root + "/missing/x/y",
		"/abs/../abs/b/.":    root + "/a/b",
	} {
		got, err := Resolve(root, in)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Resolve(root, "/loop1/x"); err == nil || !strings.Contains(err.Error(), "too many levels") {
		t.Errorf("a loop resolved: %v", err)
	}
}

// A 100 MB file is refused after reading at most the bound, and a tail
// read returns only the end.
func TestReadBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("head\n")
	f.Truncate(100 << 20) // sparse
	f.WriteAt([]byte("\ntail"), 100<<20-5)
	f.Close()
	if _, err := ReadBounded(p, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadBounded of 100 MB with a 1 MiB bound: %v", err)
	}
	b, err := ReadTail(p, 10)
	if err != nil || !strings.HasSuffix(string(b), "\ntail") || len(b) != 10 {
		t.Fatalf("ReadTail = %q, %v", b, err)
	}
	if _, err := ReadBounded(filepath.Dir(p), 10); err == nil {
		t.Fatal("a directory was read")
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// Without O_NONBLOCK this would wait for a writer for ever.
	if _, err := ReadBounded(fifo, 10); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("a FIFO: %v", err)
	}
}

package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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

// Issue 17 item 2: a link through a missing component followed by `..`
// resolved to the live host's file, because the unresolved rest was
// joined and cleaned. Now the walk goes on component by component and
// the `..` stays in the root.
func TestResolveMissingComponentStaysInRoot(t *testing.T) {
	root := t.TempDir()
	marker := filepath.Join(t.TempDir(), "marker")
	os.WriteFile(marker, []byte("LIVE-HOST"), 0o600)
	up := strings.Repeat("../", 20)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink("missing/"+up+marker, filepath.Join(root, "etc/esc1"))
	os.Symlink("/missing/"+up+marker, filepath.Join(root, "etc/esc2"))
	os.WriteFile(filepath.Join(root, "etc/file"), nil, 0o644)
	os.Symlink("file/"+up+marker, filepath.Join(root, "etc/esc3")) // through a non-directory
	r := FS{Root: root}
	for _, p := range []string{"/etc/esc1", "/etc/esc2", "/etc/esc3", "/nope/" + up + marker} {
		b, err := r.ReadFile(p, Config)
		if err == nil || strings.Contains(string(b), "LIVE-HOST") {
			t.Errorf("ReadFile(%s) = %q, %v: read outside the root", p, b, err)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(%s): %v, want does not exist", p, err)
		}
		if rp, err := r.Resolve(p); err == nil && !strings.HasPrefix(rp, root+"/") {
			t.Errorf("Resolve(%s) = %s, outside %s", p, rp, root)
		}
	}
}

// A 100 MB sparse file is refused without being read, naming the file
// and the limit; a tail read returns only the end.
func TestReadFileBounded(t *testing.T) {
	root := t.TempDir()
	f, err := os.Create(filepath.Join(root, "big"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("head\n")
	f.Truncate(100 << 20) // sparse
	f.WriteAt([]byte("\ntail"), 100<<20-5)
	f.Close()
	r := FS{Root: root}
	_, err = r.ReadFile("/big", Config)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "reading /big: larger than the 1 MiB limit for configuration files" {
		t.Fatalf("ReadFile of 100 MB with a 1 MiB bound: %v", err)
	}
	b, err := r.ReadTail("/big", LogTail)
	if err != nil || !strings.HasSuffix(string(b), "\ntail") || int64(len(b)) != Limit(LogTail) {
		t.Fatalf("ReadTail = %d bytes, %v", len(b), err)
	}
	if _, err := r.ReadFile("/", Config); err == nil || !strings.Contains(err.Error(), "not a regular file (a directory)") {
		t.Fatalf("a directory was read: %v", err)
	}
}

// FIFOs, sockets and device nodes are refused at once: without the type
// check and O_NONBLOCK a FIFO would wait for a writer for ever and
// /dev/zero would be read until the limit.
func TestReadFileRefusesSpecialFiles(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink("/fifo", filepath.Join(root, "tofifo"))
	os.Symlink("/dev/zero", filepath.Join(root, "zero")) // resolves to root/dev/zero
	os.MkdirAll(filepath.Join(root, "dev"), 0o755)
	if err := syscall.Mknod(filepath.Join(root, "dev/zero"), syscall.S_IFCHR|0o666, 1<<8|5); err != nil {
		t.Fatal(err)
	}
	r := FS{Root: root}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p, want := range map[string]string{
			"/fifo":   "not a regular file (a FIFO)",
			"/tofifo": "not a regular file (a FIFO)",
			"/zero":   "not a regular file (a character device)",
		} {
			if _, err := r.ReadFile(p, Config); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ReadFile(%s): %v, want %q", p, err, want)
			}
		}
		if _, err := r.ReadDir("/fifo"); err == nil || !strings.Contains(err.Error(), "not a directory (a FIFO)") {
			t.Errorf("ReadDir(/fifo): %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("reading a special file blocked")
	}
}

// Lstat and Readlink look at the link itself; Stat follows it inside the
// root; ReadDir lists sorted and bounded.
func TestStatLstatReadlinkReadDir(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "d/sub"), 0o755)
	os.WriteFile(filepath.Join(root, "d/b"), []byte("x"), 0o644)
	os.Symlink("/d/b", filepath.Join(root, "d/a"))
	r := FS{Root: root}
	if fi, err := r.Lstat("/d/a"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(/d/a) = %v, %v", fi, err)
	}
	if fi, err := r.Stat("/d/a"); err != nil || !fi.Mode().IsRegular() || fi.Size() != 1 {
		t.Errorf("Stat(/d/a) = %v, %v", fi, err)
	}
	if tg, err := r.Readlink("/d/a"); err != nil || tg != "/d/b" {
		t.Errorf("Readlink(/d/a) = %q, %v", tg, err)
	}
	ents, err := r.ReadDir("/d")
	if err != nil || len(ents) != 3 || ents[0].Name() != "a" || ents[2].Name() != "sub" || !ents[2].IsDir() {
		t.Errorf("ReadDir(/d) = %v, %v", ents, err)
	}
	if _, err := r.Stat("/d/none"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/d/none") || strings.Contains(err.Error(), root) {
		t.Errorf("Stat of a missing file: %v (want the host path, not the prefixed one)", err)
	}
}

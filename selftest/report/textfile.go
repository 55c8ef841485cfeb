package report

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/atomic-selftest/atomic-selftest/selftest/format"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// TextfileName is the file WriteTextfile replaces; node_exporter's textfile
// collector reads *.prom.
const TextfileName = "atomic-selftest.prom"

// TextfileTimeout bounds the whole textfile step of a run: the session
// gives WriteTextfile a context with this deadline, so nothing in the
// collector's directory can delay what follows (the health reboot).
const TextfileTimeout = 10 * time.Second

// afterTextfileRename is called between the rename and the directory
// fsync, in tests only.
var afterTextfileRename func()

// WriteTextfile replaces dir/atomic-selftest.prom with rec in the
// Prometheus text format, mode 0644 so node_exporter (not root) can read
// it. It returns when ctx ends even if the write is still blocked (the
// write then finishes or fails on its own).
//
// The directory belongs to node_exporter's user, not to root, so it is
// treated as hostile: it is opened once, with O_DIRECTORY|O_NOFOLLOW (a
// symbolic link in its place is refused with its name, never written
// through), and the temporary file, its rename over the final name and the
// directory fsync all go through that descriptor (openat, renameat, fsync),
// so a directory swapped for another, or for a FIFO, after the open
// changes nothing they use. Every open is O_NONBLOCK and checked with
// fstat, so a FIFO never blocks one.
func WriteTextfile(ctx context.Context, dir string, rec *record.Record) error {
	var buf bytes.Buffer
	if err := (format.Prometheus{}).Write(&buf, []*record.Record{rec}); err != nil {
		return fmt.Errorf("textfile %s: %w", dir, err)
	}
	done := make(chan error, 1)
	go func() { done <- writeInDir(dir, TextfileName, buf.Bytes(), 0o644) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("textfile collector directory: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("textfile collector directory %s: gave up: %w", dir, ctx.Err())
	}
}

// maxTextfileEntries bounds how much of the collector's directory is
// listed for strays: it is another user's, and may hold anything.
const maxTextfileEntries = 1024

// removeTextfileStrays unlinks, through the directory's descriptor, the
// temporary files an earlier write left when it was killed or the power
// was cut between create and rename: only names writeInDir makes
// (.tmp-NAME-<16 hex digits>), among the first maxTextfileEntries
// entries. unlinkat without AT_REMOVEDIR never removes a directory, and a
// link of that name is removed itself, never followed. The removals need
// no fsync: one that a cut undoes is removed again next time.
func removeTextfileStrays(dfd int, name string) {
	dup, err := unix.Dup(dfd)
	if err != nil {
		return
	}
	d := os.NewFile(uintptr(dup), name)
	defer d.Close()
	entries, _ := d.ReadDir(maxTextfileEntries)
	for _, e := range entries {
		if isTextfileStray(e.Name(), name) {
			_ = unix.Unlinkat(dfd, e.Name(), 0)
		}
	}
}

func isTextfileStray(entry, name string) bool {
	suffix, ok := strings.CutPrefix(entry, ".tmp-"+name+"-")
	if !ok || len(suffix) != 16 {
		return false
	}
	_, err := hex.DecodeString(suffix)
	return err == nil && strings.ToLower(suffix) == suffix
}

// writeInDir atomically replaces dir/name with data through one
// descriptor of dir.
func writeInDir(dir, name string, data []byte, perm uint32) error {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	// With O_DIRECTORY, Linux refuses a link with ENOTDIR rather than
	// ELOOP; lstat tells the two apart for the message.
	var lst unix.Stat_t
	isLink := err != nil && unix.Lstat(dir, &lst) == nil && lst.Mode&unix.S_IFMT == unix.S_IFLNK
	switch {
	case errors.Is(err, unix.ELOOP) || isLink:
		return fmt.Errorf("%s is a symbolic link; the directory is written only by its own name, never through a link", dir)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%s is not a directory", dir)
	case err != nil:
		return fmt.Errorf("opening %s: %w", dir, err)
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	if err := unix.Fstat(dfd, &st); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s is not a directory", dir)
	}
	removeTextfileStrays(dfd, name)
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	// .tmp-NAME-*: node_exporter reads *.prom only.
	tmp := ".tmp-" + name + "-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	if err != nil {
		return fmt.Errorf("creating %s/%s: %w", dir, tmp, err)
	}
	f := os.NewFile(uintptr(fd), dir+"/"+tmp)
	werr := func() error {
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fmt.Errorf("%s/%s is not a regular file", dir, tmp)
		}
		// The umask narrowed the mode openat gave it.
		if err := unix.Fchmod(fd, perm); err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
		return f.Sync()
	}()
	if err := errors.Join(werr, f.Close()); err != nil {
		_ = unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("writing %s/%s: %w", dir, name, err)
	}
	if err := unix.Renameat(dfd, tmp, dfd, name); err != nil {
		_ = unix.Unlinkat(dfd, tmp, 0)
		return fmt.Errorf("renaming into %s/%s: %w", dir, name, err)
	}
	if afterTextfileRename != nil {
		afterTextfileRename()
	}
	if err := unix.Fsync(dfd); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

package report

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

func textfileRecord() *record.Record {
	res := []record.Result{{ID: "host.var", Criterion: "C1", Required: true, Status: record.StatusPass}}
	return &record.Record{Schema: record.SchemaVersion, ID: "run-x", BootID: "b", Trigger: record.TriggerBoot,
		Start: time.Now(), End: time.Now(), Checks: res, Summary: record.Summarise(res)}
}

// TestTextfileDirSymlinkRefused (issue 24 item 3): the textfile directory
// belongs to node_exporter's user, who replaced it with a link to a
// root-only directory, and root wrote there. A linked directory is refused
// with its name, and nothing is written where the link points.
func TestTextfileDirSymlinkRefused(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "root-only")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "textfile")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	err := WriteTextfile(context.Background(), link, textfileRecord())
	if err == nil || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("err = %v, want a refusal naming %s", err, link)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 0 {
		t.Fatalf("wrote through the link: %v", ents)
	}
}

// TestTextfileFIFOSwapDoesNotBlock: the directory swapped for a FIFO right
// after the rename hung the run in the directory fsync (which opened the
// path again) before the health reboot. The write, rename and fsync go
// through the one descriptor opened at the start, so the swap changes
// nothing the write uses and it returns at once.
func TestTextfileFIFOSwapDoesNotBlock(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "textfile")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	afterTextfileRename = func() {
		if err := os.Rename(dir, dir+".moved"); err != nil {
			t.Error(err)
		}
		if err := syscall.Mkfifo(dir, 0o666); err != nil {
			t.Error(err)
		}
	}
	defer func() { afterTextfileRename = nil }()
	done := make(chan error, 1)
	go func() { done <- WriteTextfile(context.Background(), dir, textfileRecord()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WriteTextfile blocked after the directory was swapped for a FIFO")
	}
	if _, err := os.Stat(filepath.Join(dir+".moved", TextfileName)); err != nil {
		t.Fatalf("the textfile is not in the directory that was opened: %v", err)
	}
}

// TestTextfileBounded: whatever blocks inside the write (a hung
// filesystem), WriteTextfile returns when its context ends, so the health
// reboot that follows in the session is not delayed.
func TestTextfileBounded(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	afterTextfileRename = func() { <-release }
	defer func() { close(release); afterTextfileRename = nil }()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := WriteTextfile(ctx, dir, textfileRecord())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v, want the deadline naming %s", err, dir)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("returned after %v", d)
	}
}

// A FIFO or a file where the directory should be is refused without
// blocking.
func TestTextfileDirNotADirectory(t *testing.T) {
	base := t.TempDir()
	fifo := filepath.Join(base, "fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	err := WriteTextfile(context.Background(), fifo, textfileRecord())
	if err == nil || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("err = %v", err)
	}
}

// TestTextfileRemovesItsStrays: a write cut between create and rename
// leaves .tmp-atomic-selftest.prom-<16 hex> in the collector's directory;
// the next write removes it, and only names of that shape.
func TestTextfileRemovesItsStrays(t *testing.T) {
	dir := t.TempDir()
	ours := filepath.Join(dir, ".tmp-"+TextfileName+"-0123456789abcdef")
	others := []string{".tmp-" + TextfileName + "-0123", ".tmp-other.prom-0123456789abcdef", "node.prom", ".tmp-" + TextfileName + "-0123456789ABCDEF"}
	for _, n := range append(others, filepath.Base(ours)) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteTextfile(context.Background(), dir, textfileRecord()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ours); !os.IsNotExist(err) {
		t.Errorf("the stray is still there: %v", err)
	}
	for _, n := range others {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s, not ours, was removed: %v", n, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, TextfileName)); err != nil {
		t.Error(err)
	}
}

// Package store owns /var/lib/atomic-selftest: run records (one JSON file a
// run), small state files (the last booted deployment, the pending
// expectation), the lock that keeps two runs from interleaving, and pruning.
//
// Every write is atomic: a temporary file in the same directory, fsync,
// rename over the final name, fsync of the directory. A run killed at any
// instant, or a power cut, therefore leaves either the old file or the new
// one, never a partial one; stray temporary files are removed under the
// lock. A file that is not whole JSON all the same (a torn write of an
// older version, a file system that lost data) is never read as valid:
// under the lock it is set aside as damaged-NAME, with a message.
package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// DefaultDir is where results live on a host.
const DefaultDir = "/var/lib/atomic-selftest"

// State file names.
const (
	LastDeploymentFile = "last-deployment.json"
	LastRunFile        = "last-run.json"
	ExpectFile         = "expect.json"
	lockFile           = ".lock"
	tmpPrefix          = ".tmp-"
	runPrefix          = "run-"
	// damagedPrefix marks a file set aside because it is not whole JSON.
	damagedPrefix = "damaged-"
)

// maxStrays bounds the temporary files one Lock removes: a cut leaves at
// most one per write in flight, and a directory someone filled with
// thousands of such names must not hold the lock for long.
const maxStrays = 64

// maxDamaged is how many set-aside files Prune keeps, newest first.
const maxDamaged = 8

// maxRecordSize bounds what is read of one file, so a damaged or hostile
// file cannot exhaust memory.
const maxRecordSize = 16 << 20

// Errors a caller maps to exit codes.
var (
	// ErrNoSpace: the filesystem is full (ENOSPC or EDQUOT).
	ErrNoSpace = errors.New("no space left on the results filesystem")
	// ErrReadOnly: the results directory cannot be written (EROFS, EACCES).
	ErrReadOnly = errors.New("results directory is not writable")
	// ErrLocked: another run held the lock for longer than the wait bound.
	ErrLocked = errors.New("another atomic-selftest run holds the results lock")
	// ErrTorn: a file is not whole JSON (empty, or cut short). The store
	// writes every file whole, so it is a torn write of an older version
	// or data a file system lost, and never read as valid.
	ErrTorn = errors.New("not whole JSON (empty or cut short)")
)

// Store is a results directory.
type Store struct {
	Dir string
	// saved is the file name of the record SaveRun wrote last, which
	// Prune never removes.
	saved string
	// locked is true while this Store holds the lock: only then are
	// damaged files set aside.
	locked bool
}

// Open returns the store at dir, creating it 0700 if missing and tightening
// its mode if it is looser. dir itself must be a directory, not a symbolic
// link to one: the store chmods it, and following a link would make root
// tighten (or write into) whatever directory the link names. The mode is
// read and changed through a descriptor opened with O_NOFOLLOW, so a link
// swapped in after the check is refused too.
func Open(dir string) (*Store, error) {
	if err := mkdirDurable(dir); err != nil {
		return nil, classify(fmt.Errorf("creating results directory %s: %w", dir, err))
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("results directory %s: %w", dir, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("results directory %s is a symbolic link; give the directory itself, the store does not follow links", dir)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("results directory %s is not a directory", dir)
	}
	d, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("opening results directory %s: %w", dir, noFollowError(dir, err))
	}
	defer d.Close()
	if fi, err = d.Stat(); err != nil {
		return nil, fmt.Errorf("results directory %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := d.Chmod(0o700); err != nil {
			return nil, classify(fmt.Errorf("making results directory %s private: %w", dir, err))
		}
	}
	return &Store{Dir: dir}, nil
}

// mkdirDurable is os.MkdirAll(dir, 0700) whose new directories survive a
// power cut: each one's name is in its parent's directory data, which is
// fsynced. Without it, the first boot's records, each fsynced with its
// directory, could vanish with the directory's own entry in /var/lib.
func mkdirDurable(dir string) error {
	dir = filepath.Clean(dir)
	var made []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		made = append(made, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(made) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range made {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("syncing %s: %w", filepath.Dir(d), err)
		}
	}
	return nil
}

// noFollowError turns the ELOOP of an O_NOFOLLOW open of a symbolic link
// into an error that says why path was refused.
func noFollowError(path string, err error) error {
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("%s is a symbolic link, which the results store does not follow: %w", path, err)
	}
	return err
}

// Lock takes the store's exclusive lock, waiting up to timeout. The
// returned function releases it. Stray temporary files of killed runs are
// removed once the lock is held.
func (s *Store) Lock(ctx context.Context, timeout time.Duration) (unlock func(), err error) {
	path := filepath.Join(s.Dir, lockFile)
	// O_NOFOLLOW: O_CREAT through a planted link would create the file
	// the link names, anywhere root can write.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil && !errors.Is(err, syscall.ELOOP) {
		// A read-only /var can still be locked through an existing file.
		var err2 error
		f, err2 = os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err2 == nil {
			err = nil
		}
	}
	if err != nil {
		return nil, classify(fmt.Errorf("opening lock %s: %w", path, noFollowError(path, err)))
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w %s: gave up after %s", ErrLocked, s.Dir, timeout)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.locked = true
	s.removeStrays()
	return func() {
		s.locked = false
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// Locked reports whether this Store holds the results lock.
func (s *Store) Locked() bool { return s.locked }

// removeStrays removes the temporary files a killed run or a power cut
// left: only regular files named as writeFile names them
// (.tmp-NAME.json-DIGITS, os.CreateTemp's pattern), at most maxStrays, and
// makes the removals durable. The caller holds the lock, so no write of
// another run is in flight.
func (s *Store) removeStrays() {
	entries, _ := os.ReadDir(s.Dir)
	removed := 0
	for _, e := range entries {
		if removed >= maxStrays {
			break
		}
		if !e.Type().IsRegular() || !isStray(e.Name()) {
			continue
		}
		if os.Remove(filepath.Join(s.Dir, e.Name())) == nil {
			removed++
		}
	}
	if removed > 0 {
		_ = syncDir(s.Dir)
	}
}

// isStray reports whether name is a temporary file of the store's own
// writes: .tmp-, a name ending in .json, a dash and os.CreateTemp's
// decimal suffix.
func isStray(name string) bool {
	rest, ok := strings.CutPrefix(name, tmpPrefix)
	if !ok {
		return false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 || !strings.HasSuffix(rest[:i], ".json") || len(rest[:i]) == len(".json") {
		return false
	}
	digits := rest[i+1:]
	if digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// classify wraps err with ErrNoSpace or ErrReadOnly where the cause is one.
func classify(err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: %w", ErrReadOnly, err)
	}
	return err
}

// WriteFile atomically replaces dir/name with data, mode 0600, and makes
// the new name durable (fsync of the directory).
func WriteFile(dir, name string, data []byte) error {
	return WriteFileMode(dir, name, data, 0o600)
}

// WriteFileMode is WriteFile with the new file's mode, for files other
// programs read (node_exporter's textfile collector). The temporary file
// is named .tmp-NAME-*, which such readers' globs (*.prom) do not match.
func WriteFileMode(dir, name string, data []byte, perm os.FileMode) error {
	if err := writeFile(dir, name, data, perm); err != nil {
		return err
	}
	return classify(syncDir(dir))
}

// writeFile is WriteFile without the directory fsync: the rename is
// atomic, a crash may only undo it, so callers that write several files
// sync the directory once at the end (Store.Sync).
func writeFile(dir, name string, data []byte, perm os.FileMode) (err error) {
	final := filepath.Join(dir, name)
	f, err := os.CreateTemp(dir, tmpPrefix+name+"-*")
	if err != nil {
		return classify(fmt.Errorf("writing %s: %w", final, err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = classify(fmt.Errorf("writing %s: %w", final, err))
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if beforeRename != nil {
		beforeRename(tmp)
	}
	return os.Rename(tmp, final)
}

// beforeRename is called between a temporary file's fsync and its
// rename, in tests only: the power-cut test takes the directory as it is
// there.
var beforeRename func(tmp string)

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteJSON atomically writes v as indented JSON to name. The new name is
// durable after the next Sync (or WriteFile) on the store.
func (s *Store) WriteJSON(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", name, err)
	}
	return writeFile(s.Dir, name, append(data, '\n'), 0o600)
}

// Sync makes every rename and removal in the store durable.
func (s *Store) Sync() error {
	if err := syncDir(s.Dir); err != nil {
		return classify(fmt.Errorf("syncing %s: %w", s.Dir, err))
	}
	return nil
}

// ReadJSON reads name into v. It returns false, nil when the file does not
// exist, and an error naming the file when it is unreadable or garbled;
// errors.Is(err, ErrTorn) when it is not whole JSON.
func (s *Store) ReadJSON(name string, v any) (bool, error) {
	path := filepath.Join(s.Dir, name)
	data, err := readBounded(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := torn(data); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	return true, nil
}

// torn returns ErrTorn when data is not one whole JSON value. Valid JSON
// of the wrong shape (a record of a newer schema) is not torn: it is
// reported, never set aside.
func torn(data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: %d bytes, no JSON", ErrTorn, len(data))
	}
	if !json.Valid(data) {
		return fmt.Errorf("%w: %d bytes", ErrTorn, len(data))
	}
	return nil
}

// SetAside renames name, a file found torn, to
// damaged-<UTC time>-NAME, so no run reads it as valid again and an
// operator still can; Prune keeps the newest maxDamaged of them. It
// returns the new name. Only a Store that holds the lock sets aside; the
// rename is durable after the next Sync.
func (s *Store) SetAside(name string, now time.Time) (string, error) {
	if !s.locked {
		return "", fmt.Errorf("setting %s aside: the results lock is not held", name)
	}
	aside := damagedPrefix + now.UTC().Format("20060102T150405.000000000Z") + "-" + name
	if err := os.Rename(filepath.Join(s.Dir, name), filepath.Join(s.Dir, aside)); err != nil {
		return "", classify(fmt.Errorf("setting %s aside: %w", filepath.Join(s.Dir, name), err))
	}
	return aside, nil
}

// Remove deletes name; a missing file is not an error. The removal is
// durable after the next Sync.
func (s *Store) Remove(name string) error {
	err := os.Remove(filepath.Join(s.Dir, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return classify(fmt.Errorf("removing %s: %w", filepath.Join(s.Dir, name), err))
	}
	return nil
}

// readBounded reads the regular file at path, at most maxRecordSize
// bytes. It does not follow a symbolic link in the last component (every
// file the store reads is one it wrote by rename, never a link) and
// refuses anything but a regular file: O_NONBLOCK keeps a planted FIFO
// from blocking the open, the type check from blocking the read.
func readBounded(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("opening %s: %w", path, noFollowError(path, err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxRecordSize {
		return nil, fmt.Errorf("%s: larger than the limit of %d bytes", path, maxRecordSize)
	}
	return data, nil
}

// RunName returns the file name of a record without a sequence number:
// its start time and boot (what older versions named records by; the
// store names them by RunID).
func RunName(rec *record.Record) string {
	boot := rec.BootID
	if len(boot) > 8 {
		boot = boot[:8]
	}
	if boot == "" {
		boot = "noboot"
	}
	return runPrefix + rec.Start.UTC().Format("20060102T150405.000000Z") + "-" + boot + ".json"
}

// SaveRun writes rec as a run record named by RunID (setting rec.ID when
// it has none) and returns the path. The caller holds the lock.
func (s *Store) SaveRun(rec *record.Record) (string, error) {
	id, err := s.RunID(rec)
	if err != nil {
		return "", err
	}
	name := id + ".json"
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding run record: %w", err)
	}
	if err := WriteFile(s.Dir, name, append(data, '\n')); err != nil {
		return "", err
	}
	s.saved = name
	return filepath.Join(s.Dir, name), nil
}

// Problem is a file that could not be read as a run record.
type Problem struct {
	File string
	Err  error
}

func (p Problem) Error() string { return fmt.Sprintf("%s: %v", p.File, p.Err) }

// runFiles lists run record names, oldest first.
func (s *Store) runFiles() ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", s.Dir, err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, runPrefix) && strings.HasSuffix(n, ".json") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Filter selects runs.
type Filter struct {
	// Last keeps the newest N runs after the other filters (0: all).
	Last int
	// BootID keeps runs of boots whose id starts with this prefix.
	BootID string
}

// Runs reads the run records matching f, oldest first. Files that cannot
// be read or parsed are returned as problems and skipped, never fatal;
// under the lock a torn one (ErrTorn) is also set aside, and its problem
// names where it went.
func (s *Store) Runs(f Filter) ([]*record.Record, []Problem, error) {
	names, err := s.runFiles()
	if err != nil {
		return nil, nil, err
	}
	var recs []*record.Record
	var problems []Problem
	// Walk newest first so --last N reads only N files.
	for i := len(names) - 1; i >= 0; i-- {
		if f.Last > 0 && len(recs) >= f.Last {
			break
		}
		if f.BootID != "" && !nameMayBeOfBoot(names[i], f.BootID) {
			continue
		}
		path := filepath.Join(s.Dir, names[i])
		rec, err := ReadRecord(path)
		if err != nil {
			if errors.Is(err, ErrTorn) && s.locked {
				if aside, aerr := s.SetAside(names[i], time.Now()); aerr != nil {
					err = errors.Join(err, aerr)
				} else {
					err = fmt.Errorf("%w; set aside as %s", err, aside)
				}
			}
			problems = append(problems, Problem{File: path, Err: err})
			continue
		}
		if f.BootID != "" && !strings.HasPrefix(rec.BootID, f.BootID) {
			continue
		}
		recs = append(recs, rec)
	}
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs, problems, nil
}

// nameMayBeOfBoot reports whether the record file name could hold a run
// of a boot whose id starts with boot. Every name the store gives ends in
// the boot's first 8 hex digits (RunID, RunName); a name that does not is
// not the store's and is read to find out. Filtering by name first keeps
// a boot's lookup (WaitBootRun, on every change to the directory) to that
// boot's one or few files instead of decoding every kept record.
func nameMayBeOfBoot(name, boot string) bool {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return true
	}
	tag := strings.TrimSuffix(name[i+1:], ".json")
	if tag == "noboot" {
		return false
	}
	if len(tag) != 8 || strings.Trim(tag, "0123456789abcdef") != "" {
		return true
	}
	return strings.HasPrefix(tag, boot[:min(len(boot), 8)])
}

// ReadRecord reads and validates one run record file.
func ReadRecord(path string) (*record.Record, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	if err := torn(data); err != nil {
		return nil, err
	}
	return record.Decode(data)
}

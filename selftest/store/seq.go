package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Run records are ordered by a sequence number the store keeps, never by
// their start time: a clock set to 2099 and back would otherwise sort the
// newest record oldest, hide its rollback banner behind an acknowledged
// 2099 one, and have Prune delete it in the save that wrote it.
//
// The sequence is in the names, run-sNNNNNNNNNNNN-<UTC start>-<boot>.json:
// the next number is one more than the highest in the directory, and
// Prune never removes the highest (it keeps at least one record, the
// newest), so the sequence never goes back while the directory lives. Names
// of older versions (run-<UTC start>-<boot>.json) sort before every
// sequenced one ('2' < 's'), so they count as older, as they are.
const (
	seqMark  = "s"
	seqWidth = 12
)

// RunID names rec in the store: its ID, the file name without .json. A
// record that has one keeps it (saving again replaces the same file);
// otherwise it gets the next sequence number. The caller holds the lock.
func (s *Store) RunID(rec *record.Record) (string, error) {
	if rec.ID != "" {
		return rec.ID, nil
	}
	names, err := s.runFiles()
	if err != nil {
		return "", err
	}
	seq := uint64(1)
	for _, n := range names {
		if v, ok := runSeq(n); ok && v >= seq {
			seq = v + 1
		}
	}
	if len(strconv.FormatUint(seq, 10)) > seqWidth {
		return "", fmt.Errorf("run record sequence in %s is exhausted (%d)", s.Dir, seq-1)
	}
	rec.ID = fmt.Sprintf("%s%s%0*d-%s", runPrefix, seqMark, seqWidth, seq, strings.TrimPrefix(strings.TrimSuffix(RunName(rec), ".json"), runPrefix))
	return rec.ID, nil
}

// runSeq reads the sequence number of a run record's name.
func runSeq(name string) (uint64, bool) {
	rest, ok := strings.CutPrefix(name, runPrefix+seqMark)
	if !ok || len(rest) < seqWidth {
		return 0, false
	}
	v, err := strconv.ParseUint(rest[:seqWidth], 10, 64)
	return v, err == nil
}

// Prune removes the oldest run records beyond keep (at least 1), never
// the record this Store saved last, and the oldest set-aside files beyond
// maxDamaged; the removals are durable after the next Sync. The caller
// holds the lock.
func (s *Store) Prune(keep int) (removed int, err error) {
	keep = max(keep, 1)
	names, err := s.runFiles()
	if err != nil {
		return 0, err
	}
	if err := s.pruneDamaged(); err != nil {
		return 0, err
	}
	for _, n := range names {
		if len(names)-removed <= keep {
			break
		}
		if n == s.saved {
			continue
		}
		if err := os.Remove(filepath.Join(s.Dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, classify(fmt.Errorf("pruning %s: %w", n, err))
		}
		removed++
	}
	return removed, nil
}

// pruneDamaged removes the oldest set-aside files beyond maxDamaged; their
// names sort by the time they were set aside.
func (s *Store) pruneDamaged() error {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return fmt.Errorf("listing %s: %w", s.Dir, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), damagedPrefix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for len(names) > maxDamaged {
		if err := os.Remove(filepath.Join(s.Dir, names[0])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return classify(fmt.Errorf("pruning %s: %w", names[0], err))
		}
		names = names[1:]
	}
	return nil
}

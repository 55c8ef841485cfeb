package config

import (
	"fmt"
	"regexp"
)

// Journal says how the journal.* and selinux.avc checks read this boot's
// journal.
type Journal struct {
	// Allow lists regular expressions (Go RE2 syntax) of known noise: a
	// signal whose line ("IDENTIFIER: MESSAGE") one of them matches is
	// counted as allowed, not as a problem. A later file's list replaces
	// an earlier one's.
	Allow []string `toml:"allow"`
	// MaxEntries caps each journalctl query (--lines): the newest this
	// many entries of the boot are read.
	MaxEntries int `toml:"max_entries"`
}

// Units says what the units.* checks accept of systemd's units.
type Units struct {
	// MaxRestarts is the most automatic restarts (NRestarts) a service
	// may have had this boot before units.restarts fails.
	MaxRestarts int `toml:"max_restarts"`
	// Ignore lists units (exact names) the units.* checks leave out.
	Ignore []string `toml:"ignore"`
}

func defaultJournal() Journal { return Journal{Allow: []string{}, MaxEntries: 20000} }

func defaultUnits() Units { return Units{MaxRestarts: 3, Ignore: []string{}} }

// AllowPatterns compiles [journal] allow (validated when loaded).
func (j Journal) AllowPatterns() ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(j.Allow))
	for i, a := range j.Allow {
		re, err := regexp.Compile(a)
		if err != nil {
			return nil, fmt.Errorf("entry %d, %q, is not a regular expression: %w", i, a, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func (c *Config) validateSignals(bad func(key, format string, args ...any) error) error {
	if _, err := c.Journal.AllowPatterns(); err != nil {
		return bad("journal.allow", "%v", err)
	}
	if c.Journal.MaxEntries < 100 || c.Journal.MaxEntries > 1000000 {
		return bad("journal.max_entries", "must be from 100 to 1000000, got %d", c.Journal.MaxEntries)
	}
	if c.Units.MaxRestarts < 0 {
		return bad("units.max_restarts", "must not be negative, got %d", c.Units.MaxRestarts)
	}
	return nil
}

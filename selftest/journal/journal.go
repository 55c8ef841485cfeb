// Package journal reads systemd journal entries as `journalctl
// --output=json` prints them (journalctl(1), systemd.journal-fields(7)),
// bounded, and decides whose an entry is.
//
// Any local user can log an entry with any MESSAGE_ID and any field of
// its own (logger --journald, sd_journal_send): a MESSAGE_ID alone proves
// nothing. What journald adds itself, the trusted fields with a leading
// underscore (_UID, _TRANSPORT, _SYSTEMD_UNIT, _COMM), a client cannot
// set: journald drops such fields from what a client sends. A Source
// names the program an entry must come from in those fields, and every
// journal read that believes an entry's content filters with one.
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Entry is one journal entry's string fields. Fields journalctl prints as
// arrays (binary data, or a field repeated in one entry) are left out: a
// trusted field that is not one plain string is not trusted.
type Entry map[string]string

// Source is who wrote an entry, in journald's trusted fields. An empty
// field is not matched.
type Source struct {
	// UID is _UID, the sender's user id ("0" for root).
	UID string
	// Transport is _TRANSPORT: "journal" for the native protocol
	// (sd_journal_send, go-systemd's journal.Send), "syslog", "stdout".
	Transport string
	// Unit is _SYSTEMD_UNIT, the service the sender ran in.
	Unit string
	// Comm is _COMM, the sender's process name.
	Comm string
	// PID is _PID, the sender's process id ("1" for the service manager).
	PID string
	// UnitPrefix, when set, is what _SYSTEMD_UNIT must start with: the
	// instances of a template ("systemd-coredump@"). journalctl matches
	// whole values only, so Matches leaves it out and Trusted checks it.
	UnitPrefix string
}

// fields is s as journal field matches, in a fixed order.
func (s Source) fields() [][2]string {
	var out [][2]string
	for _, f := range [][2]string{{"_UID", s.UID}, {"_TRANSPORT", s.Transport}, {"_SYSTEMD_UNIT", s.Unit}, {"_COMM", s.Comm}, {"_PID", s.PID}} {
		if f[1] != "" {
			out = append(out, f)
		}
	}
	return out
}

// Matches are s as journalctl match arguments (FIELD=VALUE; journalctl
// ANDs matches of different fields), so journalctl already leaves out
// what s does not match. Trusted still filters what it prints.
func (s Source) Matches() []string {
	var out []string
	for _, f := range s.fields() {
		out = append(out, f[0]+"="+f[1])
	}
	return out
}

// Trusted says whether e was written by s: every field s names is in e
// with that value.
func (s Source) Trusted(e Entry) bool {
	for _, f := range s.fields() {
		if e[f[0]] != f[1] {
			return false
		}
	}
	return s.UnitPrefix == "" || strings.HasPrefix(e["_SYSTEMD_UNIT"], s.UnitPrefix)
}

// MaxOutput bounds what ParseJSON reads of journalctl's output.
const MaxOutput = 1 << 20

// ParseJSON reads journalctl's --output=json lines (one object per line),
// at most MaxOutput bytes of them, and returns the entries s wrote; a
// longer output is cut at the limit and its last, partial line dropped.
// A line that is not JSON is an error.
func ParseJSON(out []byte, s Source) ([]Entry, error) {
	return ParseJSONMax(out, s, MaxOutput)
}

// ParseJSONMax is ParseJSON with a limit of limit bytes instead of
// MaxOutput, for a read whose size journalctl already bounds (--lines).
func ParseJSONMax(out []byte, s Source, limit int) ([]Entry, error) {
	if len(out) > limit {
		out = out[:bytes.LastIndexByte(out[:limit], '\n')+1]
	}
	var entries []Entry
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), max(limit, 64<<10))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal(line, &raw); err != nil {
			return entries, fmt.Errorf("journalctl printed a line that is not JSON: %w", err)
		}
		e := make(Entry, len(raw))
		for k, v := range raw {
			if str, ok := v.(string); ok {
				e[k] = str
			}
		}
		if s.Trusted(e) {
			entries = append(entries, e)
		}
	}
	return entries, sc.Err()
}

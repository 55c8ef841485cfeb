package family

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// ParseOstreeAdminStatus parses the text of `ostree admin status`
// (ostree 2022.7, src/ostree/ot-admin-builtin-status.c):
//
//   - debian 0dd6…54.0 (pending)
//     Version: 1.1
//     origin refspec: test/ref
//
// where the leading "*" marks the booted deployment and the parenthesised
// words are pending, rollback or staged.
func ParseOstreeAdminStatus(data []byte) (*Status, error) {
	var s Status
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if trim == "" || trim == "No deployments." {
			continue
		}
		if m := deploymentLine.FindStringSubmatch(trim); m != nil {
			serial, err := strconv.Atoi(m[4])
			if err != nil {
				return nil, fmt.Errorf("ostree admin status line %d: %q: serial: %w", n, line, err)
			}
			s.Deployments = append(s.Deployments, Entry{Deployment: record.Deployment{OSName: m[2], Checksum: m[3], Serial: serial},
				Booted: m[1] != "", Staged: strings.Contains(m[5], "staged")})
			continue
		}
		if len(s.Deployments) == 0 {
			return nil, fmt.Errorf("ostree admin status line %d: %q: want \"[*] OSNAME CHECKSUM.SERIAL\" first", n, line)
		}
		d := &s.Deployments[len(s.Deployments)-1]
		if v, ok := strings.CutPrefix(trim, "Version:"); ok {
			d.Version = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(trim, "origin refspec:"); ok {
			d.Refspec = strings.TrimSpace(v)
		}
	}
	return &s, sc.Err()
}

// deploymentLine is "[* ]OSNAME CHECKSUM.SERIAL[ (pending|rollback|staged)]".
var deploymentLine = regexp.MustCompile(`^(\*\s+)?(\S+)\s+([0-9a-f]{64})\.([0-9]+)(\s+\(.*\))?$`)

// LogEntry is one commit in `ostree log` output.
type LogEntry struct {
	Checksum string
	Parent   string
	Version  string
}

// ParseOstreeLog parses `ostree log REF` (ostree 2022.7,
// src/ostree/ot-dump.c): blocks that begin with "commit CHECKSUM", newest
// first, with "Parent:" and "Version:" lines.
func ParseOstreeLog(data []byte) []LogEntry {
	var out []LogEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if c, ok := strings.CutPrefix(line, "commit "); ok && isHex(strings.TrimSpace(c)) {
			out = append(out, LogEntry{Checksum: strings.TrimSpace(c)})
			continue
		}
		if len(out) == 0 {
			continue
		}
		e := &out[len(out)-1]
		if v, ok := strings.CutPrefix(line, "Parent:"); ok {
			e.Parent = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "Version:"); ok && e.Version == "" {
			e.Version = strings.TrimSpace(v)
		}
	}
	return out
}

func isHex(s string) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// rollbackScript makes the previous deployment the default with
// libostree's write_deployments, which is what rpm-ostree rollback does;
// plain ostree (2022.7) has no rollback command.
//
//go:embed rollback.py
var rollbackScript string

// RollbackArgv runs rollbackScript with Debian's Python and its gi OSTree
// bindings (gir1.2-ostree-1.0, python3-gi): what a plan's
// {ostree_rollback} placeholder becomes.
func RollbackArgv() []string { return []string{"/usr/bin/python3", "-c", rollbackScript} }

package outer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Entry is one deployment in the host's list as its own status command
// shows it: the run record's model of a deployment (record.Deployment,
// the one the host's self-test writes) plus the marks only the list has.
type Entry struct {
	record.Deployment
	Booted bool `json:"booted,omitempty"`
	Staged bool `json:"staged,omitempty"`
}

// HostDeployment is a deployment as the driver reports it: the run
// record's model (the name stays for callers of the driver's reports).
type HostDeployment = record.Deployment

// Status is the host's deployment list in ostree's order: the first is
// the default for the next boot.
type Status struct {
	Deployments []Entry `json:"deployments"`
}

// Describe names a deployment in a message: its short checksum and its
// version, or "the deployment" for none.
func Describe(d *record.Deployment) string {
	if d == nil {
		return "the deployment"
	}
	c := record.Short(d.Checksum)
	if d.Version != "" {
		return c + " (" + d.Version + ")"
	}
	return c
}

// Booted returns the booted deployment, or nil.
func (s *Status) Booted() *record.Deployment {
	if i := s.booted(); i >= 0 {
		return &s.Deployments[i].Deployment
	}
	return nil
}

func (s *Status) booted() int {
	for i := range s.Deployments {
		if s.Deployments[i].Booted {
			return i
		}
	}
	return -1
}

// Default returns the deployment the next boot uses, or nil.
func (s *Status) Default() *record.Deployment {
	if len(s.Deployments) == 0 {
		return nil
	}
	return &s.Deployments[0].Deployment
}

// Rollback returns the deployment a rollback makes the default: the first
// one that is not booted when the booted one is the default, else the
// booted one (rpm-ostree's rule in rollback.cxx).
func (s *Status) Rollback() *record.Deployment {
	if len(s.Deployments) < 2 {
		return nil
	}
	if b := s.booted(); b > 0 {
		return &s.Deployments[b].Deployment
	}
	return &s.Deployments[1].Deployment
}

// rpmOstreeStatus is the subset of `rpm-ostree status --json` the driver
// reads. The field names are rpm-ostree's (src/daemon/
// rpmostreed-deployment-utils.cxx, rpmostreed_deployment_generate_variant,
// rpm-ostree 2018.x to 2024.x); `atomic host status --json` prints the
// same document, since atomic host delegates to rpm-ostree.
type rpmOstreeStatus struct {
	Deployments []struct {
		OSName            string   `json:"osname"`
		Checksum          string   `json:"checksum"`
		Serial            int      `json:"serial"`
		Version           string   `json:"version"`
		Origin            string   `json:"origin"`
		Booted            bool     `json:"booted"`
		Staged            bool     `json:"staged"`
		BaseChecksum      string   `json:"base-checksum"`
		RequestedPackages []string `json:"requested-packages"`
		Packages          []string `json:"packages"`
	} `json:"deployments"`
}

// ParseRpmOstreeStatus parses `rpm-ostree status --json`.
func ParseRpmOstreeStatus(data []byte) (*Status, error) {
	var raw rpmOstreeStatus
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("rpm-ostree status --json: %w", err)
	}
	var s Status
	for i, d := range raw.Deployments {
		if d.Checksum == "" {
			return nil, fmt.Errorf("rpm-ostree status --json: deployment %d has no checksum", i)
		}
		pk := d.Packages
		if len(pk) == 0 {
			pk = d.RequestedPackages
		}
		s.Deployments = append(s.Deployments, Entry{Deployment: record.Deployment{OSName: d.OSName, Checksum: d.Checksum, Serial: d.Serial,
			Version: d.Version, Refspec: d.Origin, LayeredPackages: pk, BaseChecksum: d.BaseChecksum}, Booted: d.Booted, Staged: d.Staged})
	}
	return &s, nil
}

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

func hasPackage(d *record.Deployment, p string) bool { return slices.Contains(d.LayeredPackages, p) }

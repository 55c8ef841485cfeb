package outer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// HostDeployment is one deployment as the host's own status command shows
// it, in ostree's words. The list order is ostree's: the first is the
// default for the next boot.
type HostDeployment struct {
	OSName   string   `json:"osname"`
	Checksum string   `json:"checksum"`
	Serial   int      `json:"serial"`
	Version  string   `json:"version,omitempty"`
	Refspec  string   `json:"refspec,omitempty"`
	Booted   bool     `json:"booted,omitempty"`
	Staged   bool     `json:"staged,omitempty"`
	Packages []string `json:"packages,omitempty"`
	// BaseChecksum is the base of a layered deployment.
	BaseChecksum string `json:"base_checksum,omitempty"`
	// ImageDigest is a bootc deployment's image digest (sha256:…).
	ImageDigest string `json:"image_digest,omitempty"`
}

// Short is "checksum-prefix (version)" for messages.
func (d *HostDeployment) Short() string {
	c := d.Checksum
	if len(c) > 10 {
		c = c[:10] + "…"
	}
	if d.Version != "" {
		return c + " (" + d.Version + ")"
	}
	return c
}

// HasPackage reports whether p is layered.
func (d *HostDeployment) HasPackage(p string) bool {
	for _, x := range d.Packages {
		if x == p {
			return true
		}
	}
	return false
}

// Status is the host's deployment list.
type Status struct {
	Deployments []HostDeployment `json:"deployments"`
}

// Booted returns the booted deployment, or nil.
func (s *Status) Booted() *HostDeployment {
	for i := range s.Deployments {
		if s.Deployments[i].Booted {
			return &s.Deployments[i]
		}
	}
	return nil
}

// Default returns the deployment the next boot uses, or nil.
func (s *Status) Default() *HostDeployment {
	if len(s.Deployments) == 0 {
		return nil
	}
	return &s.Deployments[0]
}

// Rollback returns the deployment a rollback makes the default: the first
// one that is not booted when the booted one is the default, else the
// booted one (rpm-ostree's rule in rollback.cxx).
func (s *Status) Rollback() *HostDeployment {
	b := s.Booted()
	if len(s.Deployments) < 2 {
		return nil
	}
	if b == nil || b == &s.Deployments[0] {
		return &s.Deployments[1]
	}
	return b
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
		s.Deployments = append(s.Deployments, HostDeployment{OSName: d.OSName, Checksum: d.Checksum, Serial: d.Serial,
			Version: d.Version, Refspec: d.Origin, Booted: d.Booted, Staged: d.Staged, Packages: pk, BaseChecksum: d.BaseChecksum})
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
			s.Deployments = append(s.Deployments, HostDeployment{OSName: m[2], Checksum: m[3], Serial: serial,
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

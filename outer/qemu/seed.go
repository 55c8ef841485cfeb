package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Seed is what the NoCloud data source hands cloud-init on the guest's
// first boot (cloud-init docs, "NoCloud": a volume labelled "cidata" with
// the files meta-data and user-data).
type Seed struct {
	// InstanceID is meta-data's instance-id; a new one makes cloud-init
	// run its per-instance modules again.
	InstanceID string
	// Hostname is meta-data's local-hostname and user-data's hostname.
	Hostname string
	// AuthorizedKeys are public keys (authorized_keys lines) for the
	// default user and for root.
	AuthorizedKeys []string
	// HostKeyPrivate/HostKeyPublic are the guest's ed25519 SSH host key
	// (OpenSSH format), so the driver knows it before the first connect
	// and checks it strictly.
	HostKeyPrivate string
	HostKeyPublic  string
	// RunCmd are runcmd entries (each an argv, run without a shell by
	// cloud-init) executed once on first boot, after the network is up.
	RunCmd [][]string
	// Marker, when set, is a file the user script writes (with the
	// instance id in it), so a check on the guest can prove user scripts
	// ran.
	Marker string
}

// cloudConfig is the #cloud-config user-data (cloud-init's cc_* module
// keys, as documented for cloud-init 22.4, the version in Debian 12).
// It is written as JSON, which is YAML too, so no YAML library is needed.
type cloudConfig struct {
	Hostname          string            `json:"hostname,omitempty"`
	PreserveHostname  bool              `json:"preserve_hostname"`
	DisableRoot       bool              `json:"disable_root"`
	SSHAuthorizedKeys []string          `json:"ssh_authorized_keys,omitempty"`
	SSHDeleteKeys     bool              `json:"ssh_deletekeys"`
	SSHKeys           map[string]string `json:"ssh_keys,omitempty"`
	RunCmd            [][]string        `json:"runcmd,omitempty"`
}

// MetaData renders the meta-data file.
func (s *Seed) MetaData() ([]byte, error) {
	return json.MarshalIndent(map[string]string{
		"instance-id":    s.InstanceID,
		"local-hostname": s.Hostname,
	}, "", "  ")
}

// UserData renders the user-data file (#cloud-config).
func (s *Seed) UserData() ([]byte, error) {
	cc := cloudConfig{
		Hostname:          s.Hostname,
		DisableRoot:       false,
		SSHAuthorizedKeys: s.AuthorizedKeys,
		SSHDeleteKeys:     true,
		RunCmd:            s.RunCmd,
	}
	if s.HostKeyPrivate != "" {
		cc.SSHKeys = map[string]string{
			"ed25519_private": s.HostKeyPrivate,
			"ed25519_public":  s.HostKeyPublic,
		}
	}
	if s.Marker != "" {
		// A user script in the cloud-init sense: runcmd is turned into
		// /var/lib/cloud/instance/scripts/runcmd and run by
		// scripts-user in cloud-final.
		cc.RunCmd = append([][]string{{"sh", "-c", `mkdir -p "$(dirname "$1")" && printf '%s\n' "$2" > "$1"`, "sh", s.Marker, s.InstanceID}}, cc.RunCmd...)
	}
	body, err := json.MarshalIndent(&cc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(append([]byte("#cloud-config\n"), body...), '\n'), nil
}

// WriteISO writes the seed as an ISO 9660 image labelled "cidata" (with
// Joliet and Rock Ridge names, as cloud-localds makes it) using genisoimage.
func (s *Seed) WriteISO(ctx context.Context, path string) error {
	if s.InstanceID == "" || s.Hostname == "" {
		return fmt.Errorf("seed %s: instance id and host name are required", path)
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	md, err := s.MetaData()
	if err != nil {
		return fmt.Errorf("seed meta-data: %w", err)
	}
	ud, err := s.UserData()
	if err != nil {
		return fmt.Errorf("seed user-data: %w", err)
	}
	for name, data := range map[string][]byte{"meta-data": md, "user-data": ud} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "genisoimage", "-quiet", "-output", path, "-volid", "cidata",
		"-joliet", "-rock", filepath.Join(dir, "user-data"), filepath.Join(dir, "meta-data"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("genisoimage %s: %w: %s", path, err, strings.TrimSpace(string(out)))
	}
	return nil
}

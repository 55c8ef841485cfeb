package qemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	ign "github.com/coreos/ignition/v2/config/v3_3"
	"github.com/coreos/ignition/v2/config/v3_3/types"
	"github.com/coreos/vcontext/report"
)

// IgnitionVersion is the spec version of the configs the driver writes:
// 3.3.0, the newest stable spec Ignition 2.14 (Debian 12's) reads, and
// one every later Ignition (Fedora CoreOS, IoT, bootc images) still reads.
const IgnitionVersion = "3.3.0"

// FirstBootUnit is the unit the driver's Ignition config enables: the
// Ignition form of the NoCloud seed's user script (Ignition runs no
// scripts itself; an enabled unit is how its configs run a command on
// the first boot). It writes Marker and runs RunCmd once.
const FirstBootUnit = "atomic-selftest-firstboot.service"

// IgnitionUsers are the users the driver's key is given to: root, which
// the driver logs in as, and core, the login user of Fedora CoreOS and
// the Ignition-provisioned successors (created where it does not exist).
var IgnitionUsers = []string{"root", "core"}

// Ignition is what the driver hands Ignition on the guest's first boot:
// the same Seed as for cloud-init (keys, host name, host key, the
// first-boot commands and the marker that proves they ran), as an Ignition config
// (spec 3.3.0) QEMU passes on fw_cfg as opt/com.coreos/config, the key
// Ignition's qemu platform reads (internal/providers/qemu in
// coreos/ignition; kola passes its configs the same way,
// mantle/platform/qemu.go in coreos/coreos-assembler).
type Ignition struct {
	Seed
	// Admin is an admin's own config (--qemu-ignition), parsed by
	// ParseAdminIgnition; the driver's config is merged on top of it.
	Admin *types.Config
}

// Config builds the driver's config and merges it into Admin, if any,
// with Ignition's own merge (config/merge in coreos/ignition, what
// Ignition runs for ignition.config.merge): the admin's config is the
// parent and the driver's the child, so lists keyed by name (users,
// files, units) merge entry by entry, a user's sshAuthorizedKeys are
// joined, and where both set one field the driver's value wins. So the
// driver's key, host key and host name always get in, and everything
// else the admin asked for stays. The merge is done here, not by the
// guest, so the one config the guest gets is checked before the boot.
func (g *Ignition) Config() (types.Config, error) {
	if g.InstanceID == "" || g.Hostname == "" {
		return types.Config{}, fmt.Errorf("ignition config: instance id and host name are required")
	}
	c := types.Config{Ignition: types.Ignition{Version: IgnitionVersion}}
	var keys []types.SSHAuthorizedKey
	for _, k := range g.AuthorizedKeys {
		keys = append(keys, types.SSHAuthorizedKey(k))
	}
	for _, u := range IgnitionUsers {
		c.Passwd.Users = append(c.Passwd.Users, types.PasswdUser{Name: u, SSHAuthorizedKeys: keys})
	}
	c.Storage.Files = append(c.Storage.Files, dataFile("/etc/hostname", 0o644, g.Hostname+"\n"))
	if g.HostKeyPrivate != "" {
		c.Storage.Files = append(c.Storage.Files,
			dataFile("/etc/ssh/ssh_host_ed25519_key", 0o600, g.HostKeyPrivate),
			dataFile("/etc/ssh/ssh_host_ed25519_key.pub", 0o644, strings.TrimSpace(g.HostKeyPublic)+"\n"))
	}
	if g.Marker != "" || len(g.RunCmd) > 0 {
		unit, err := g.firstBootUnit()
		if err != nil {
			return types.Config{}, err
		}
		c.Systemd.Units = append(c.Systemd.Units, types.Unit{Name: FirstBootUnit, Enabled: boolp(true), Contents: &unit})
	}
	if g.Admin != nil {
		c = ign.Merge(*g.Admin, c)
	}
	// What the guest gets must parse as Ignition parses it.
	raw, err := json.Marshal(&c)
	if err != nil {
		return types.Config{}, err
	}
	if _, rpt, err := ign.Parse(raw); refused(rpt, err) {
		return types.Config{}, fmt.Errorf("the driver's ignition config is invalid: %s", reportText(rpt, err))
	}
	return c, nil
}

// JSON renders Config as Ignition reads it.
func (g *Ignition) JSON() ([]byte, error) {
	c, err := g.Config()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteFile writes the config for QEMU's -fw_cfg (mode 0600: it carries
// the guest's private host key).
func (g *Ignition) WriteFile(path string) error {
	b, err := g.JSON()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// firstBootUnit is a oneshot that writes the marker (with the instance
// id) and runs RunCmd, once: the marker's existence stops it on later
// boots. Every argument is quoted for systemd.service(5)'s command
// lines, so an argv stays an argv.
func (g *Ignition) firstBootUnit() (string, error) {
	var b strings.Builder
	b.WriteString("[Unit]\nDescription=atomic-selftest: the driver's first-boot commands (Ignition)\n")
	b.WriteString("Wants=network-online.target\nAfter=network-online.target\n")
	if g.Marker != "" {
		q, err := systemdQuote(g.Marker)
		if err != nil {
			return "", fmt.Errorf("marker: %w", err)
		}
		b.WriteString("ConditionPathExists=!" + strings.Trim(q, `"`) + "\n")
	}
	b.WriteString("\n[Service]\nType=oneshot\nRemainAfterExit=yes\n")
	cmds := g.RunCmd
	if g.Marker != "" {
		cmds = append([][]string{{"/bin/sh", "-c", `mkdir -p "$(dirname "$1")" && printf '%s\n' "$2" > "$1"`, "sh", g.Marker, g.InstanceID}}, cmds...)
	}
	for i, argv := range cmds {
		if len(argv) == 0 {
			return "", fmt.Errorf("first-boot command %d is empty", i+1)
		}
		var line []string
		for _, a := range argv {
			q, err := systemdQuote(a)
			if err != nil {
				return "", fmt.Errorf("first-boot command %d: %w", i+1, err)
			}
			line = append(line, q)
		}
		b.WriteString("ExecStart=" + strings.Join(line, " ") + "\n")
	}
	b.WriteString("\n[Install]\nWantedBy=multi-user.target\n")
	return b.String(), nil
}

// systemdQuote quotes one argument of an ExecStart= line
// (systemd.service(5), "Command lines"): in double quotes with C-style
// escapes for backslash and quote, % doubled (specifiers) and $ doubled
// (environment variable substitution). A control character is refused:
// no escape makes a unit file line hold a newline safely.
func systemdQuote(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			return "", fmt.Errorf("argument %q holds a control character", s)
		case r == '\\' || r == '"':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '%' || r == '$':
			b.WriteRune(r)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// ParseAdminIgnition reads an admin's Ignition config (spec 3.0.0 to
// 3.3.0, translated to 3.3 as Ignition translates it) and refuses one
// with an error, a warning (an unknown key, which Ignition would ignore:
// most often a typo) or a newer spec than the guest's Ignition 2.14 can
// read. Every message names the file and the field
// ($.passwd.users.0.name).
func ParseAdminIgnition(file string) (*types.Config, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ignition config %s: %w", file, err)
	}
	c, rpt, err := ign.ParseCompatibleVersion(raw)
	if refused(rpt, err) {
		return nil, fmt.Errorf("ignition config %s: %s", file, reportText(rpt, err))
	}
	return &c, nil
}

// refused says whether a parse report refuses the config: an error, or
// a warning (Ignition boots with a warning, but it most often means a
// misspelt key the guest would silently ignore). Info entries pass.
func refused(rpt report.Report, err error) bool {
	if err != nil {
		return true
	}
	for _, e := range rpt.Entries {
		if e.Kind != report.Info {
			return true
		}
	}
	return false
}

// reportText is a parse report as one line, each entry as vcontext
// prints it: kind, field path ($.passwd.users.0.name) and line and
// column. A bare error (a spec version this driver cannot read) names
// the version field.
func reportText(rpt report.Report, err error) string {
	var parts []string
	for _, e := range rpt.Entries {
		if e.Kind != report.Info {
			parts = append(parts, e.String())
		}
	}
	if len(parts) == 0 && err != nil {
		msg := err.Error()
		if strings.Contains(msg, "version") {
			msg = "error at $.ignition.version: " + msg + " (the driver reads specs 3.0.0 to " + IgnitionVersion + ", the newest Ignition 2.14 reads)"
		}
		parts = append(parts, msg)
	}
	return strings.Join(parts, "; ")
}

func dataFile(path string, mode int, contents string) types.File {
	src := "data:;base64," + base64.StdEncoding.EncodeToString([]byte(contents))
	return types.File{
		Node:          types.Node{Path: path, Overwrite: boolp(true)},
		FileEmbedded1: types.FileEmbedded1{Contents: types.Resource{Source: &src}, Mode: &mode},
	}
}

func boolp(b bool) *bool { return &b }

// Package selinuxfmt reads SELinux's state as a host shows it: the mode the
// administrator configured in /etc/selinux/config (selinux_config(5)), the
// mode the kernel runs in (/sys/fs/selinux/enforce, selinuxfs), and AVC
// denials as the kernel's audit subsystem words them, in the three forms
// they reach a log: journald's audit entry ("AVC avc:  denied …"), the
// kernel's printk fallback when no audit daemon listens ("audit:
// type=1400 audit(…): avc:  denied …") and auditd's audit.log
// ("type=AVC msg=audit(…): avc:  denied …").
package selinuxfmt

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// The modes, in selinux_config(5)'s words.
const (
	Enforcing  = "enforcing"
	Permissive = "permissive"
	Disabled   = "disabled"
)

// Config is /etc/selinux/config.
type Config struct {
	// Mode is SELINUX=: enforcing, permissive or disabled.
	Mode string
	// Type is SELINUXTYPE=, the policy ("targeted").
	Type string
}

// ParseConfig reads /etc/selinux/config: KEY=value lines, # comments. A
// mode that is not one of the three is an error naming it.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"'`)
		switch strings.TrimSpace(k) {
		case "SELINUX":
			switch strings.ToLower(v) {
			case Enforcing, Permissive, Disabled:
				c.Mode = strings.ToLower(v)
			default:
				return c, fmt.Errorf("line %d: SELINUX=%q is not enforcing, permissive or disabled", n, v)
			}
		case "SELINUXTYPE":
			c.Type = v
		}
	}
	if c.Mode == "" {
		return c, fmt.Errorf("no SELINUX= line")
	}
	return c, sc.Err()
}

// ParseEnforce reads selinuxfs's enforce file: "1" enforcing, "0"
// permissive.
func ParseEnforce(b []byte) (string, error) {
	switch strings.TrimSpace(string(b)) {
	case "1":
		return Enforcing, nil
	case "0":
		return Permissive, nil
	}
	return "", fmt.Errorf("enforce holds %q, not 0 or 1", bytes.TrimSpace(b))
}

// AVC is one access vector cache decision the audit subsystem logged.
type AVC struct {
	// Denied is true for "denied", false for "granted".
	Denied bool
	// Perms are the permissions asked, as in "{ read write }".
	Perms []string
	// Comm, PID, Scontext (the subject), Tcontext (the object), Tclass
	// and Name or Path are the record's fields.
	Comm, PID, Scontext, Tcontext, Tclass, Target string
	// Permissive is true when the denial was only logged (permissive=1:
	// a permissive mode or domain).
	Permissive bool
}

// String names the denial in one line: "denied { read } comm=ls
// scontext=… tcontext=… tclass=dir name=x".
func (a AVC) String() string {
	verdict := "granted"
	if a.Denied {
		verdict = "denied"
	}
	s := fmt.Sprintf("%s { %s } comm=%s scontext=%s tcontext=%s tclass=%s", verdict, strings.Join(a.Perms, " "), a.Comm, a.Scontext, a.Tcontext, a.Tclass)
	if a.Target != "" {
		s += " " + a.Target
	}
	if a.Permissive {
		s += " (permissive)"
	}
	return s
}

// ParseAVC finds the AVC record in line, in any of the forms the package
// doc names, and reports whether there is one. A user-space AVC
// (USER_AVC, from dbus-daemon or systemd) carries the same "avc:" text
// inside its msg='…' and is read the same way.
func ParseAVC(line string) (AVC, bool) {
	i := strings.Index(line, "avc:")
	if i < 0 {
		return AVC{}, false
	}
	rest := strings.TrimSpace(line[i+len("avc:"):])
	var a AVC
	switch {
	case strings.HasPrefix(rest, "denied"):
		a.Denied = true
		rest = rest[len("denied"):]
	case strings.HasPrefix(rest, "granted"):
		rest = rest[len("granted"):]
	default:
		return AVC{}, false
	}
	open, end := strings.Index(rest, "{"), strings.Index(rest, "}")
	if open < 0 || end < open {
		return AVC{}, false
	}
	a.Perms = strings.Fields(rest[open+1 : end])
	for _, f := range strings.Fields(rest[end+1:]) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "comm":
			a.Comm = v
		case "pid":
			a.PID = v
		case "scontext":
			a.Scontext = v
		case "tcontext":
			a.Tcontext = v
		case "tclass":
			a.Tclass = v
		case "name", "path":
			if a.Target == "" {
				a.Target = k + "=" + v
			}
		case "permissive":
			a.Permissive = v == "1"
		}
	}
	if a.Scontext == "" || a.Tclass == "" {
		return AVC{}, false
	}
	return a, true
}

// Package inventory reads the hosts the outer driver drives: Ansible INI
// inventories and host arguments (HOST, HOST:PORT, USER@HOST:PORT), and
// turns them into SSH transports.
package inventory

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Host is one host of an inventory with the connection variables
// the driver uses.
type Host struct {
	Name    string
	Addr    string // ansible_host, else the name
	Port    int    // ansible_port, else 22
	User    string // ansible_user
	KeyFile string // ansible_ssh_private_key_file
	Groups  []string
}

// Inventory is an Ansible INI inventory (the format of
// docs.ansible.com's "How to build your inventory", ansible-core 2.x
// plugins/inventory/ini.py): [group] sections of host lines with
// key=value variables, [group:vars] and [group:children] sections,
// numeric ranges such as host[01:50], comments with # or ;.
type Inventory struct {
	hosts    map[string]*entry
	order    []string
	groups   map[string][]string // group -> hosts, in file order
	children map[string][]string
	vars     map[string]map[string]string
	gorder   []string
}

type entry struct {
	vars   map[string]string
	groups []string
}

var rangeRe = regexp.MustCompile(`\[([0-9]+):([0-9]+)\]`)

// Parse reads the INI inventory in data; name is for messages.
func Parse(name string, data []byte) (*Inventory, error) {
	inv := &Inventory{hosts: map[string]*entry{}, groups: map[string][]string{}, children: map[string][]string{}, vars: map[string]map[string]string{}}
	group, kind := "ungrouped", ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, n)
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("%s: section %q has no closing ]", where, line)
			}
			sec := line[1 : len(line)-1]
			group, kind, _ = strings.Cut(sec, ":")
			if group == "" || strings.ContainsAny(group, " \t") {
				return nil, fmt.Errorf("%s: bad group name %q", where, sec)
			}
			if kind != "" && kind != "vars" && kind != "children" {
				return nil, fmt.Errorf("%s: section [%s]: want :vars or :children", where, sec)
			}
			inv.addGroup(group)
			continue
		}
		switch kind {
		case "vars":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("%s: [%s:vars] wants key=value, got %q", where, group, line)
			}
			if inv.vars[group] == nil {
				inv.vars[group] = map[string]string{}
			}
			inv.vars[group][strings.TrimSpace(k)] = unquote(strings.TrimSpace(v))
		case "children":
			inv.addGroup(line)
			inv.children[group] = append(inv.children[group], line)
		default:
			f, err := splitFields(line)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			names, err := expandRange(f[0])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			vars := map[string]string{}
			for _, kv := range f[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("%s: host %s: variable %q is not key=value", where, f[0], kv)
				}
				vars[k] = unquote(v)
			}
			for _, hn := range names {
				// "host:port" is Ansible's short form for ansible_port.
				if h, p, ok := strings.Cut(hn, ":"); ok && !strings.Contains(p, ":") {
					hn = h
					vars = copyVars(vars)
					vars["ansible_port"] = p
				}
				inv.addHost(group, hn, vars)
			}
			if len(inv.order) > MaxHosts {
				return nil, fmt.Errorf("%s: the inventory names more than %d hosts", where, MaxHosts)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return inv, nil
}

func copyVars(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Load reads an inventory file.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return Parse(path, data)
}

func (inv *Inventory) addGroup(g string) {
	if _, ok := inv.groups[g]; !ok {
		inv.groups[g] = nil
		inv.gorder = append(inv.gorder, g)
	}
}

func (inv *Inventory) addHost(group, name string, vars map[string]string) {
	h, ok := inv.hosts[name]
	if !ok {
		h = &entry{vars: map[string]string{}}
		inv.hosts[name] = h
		inv.order = append(inv.order, name)
	}
	for k, v := range vars {
		h.vars[k] = v
	}
	if !slices.Contains(h.groups, group) {
		h.groups = append(h.groups, group)
		inv.groups[group] = append(inv.groups[group], name)
	}
}

// splitFields splits a host line on blanks, keeping quoted values whole.
func splitFields(line string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
			cur.WriteByte(c)
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		case c == '#':
			i = len(line) // a comment runs to the end of the line
		default:
			cur.WriteByte(c)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", line)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty host line")
	}
	return out, nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// MaxHosts bounds the hosts one inventory may name, after its ranges are
// expanded: each range alone, their product on one line, and the file's
// total.
const MaxHosts = 10000

// expandRange expands the numeric ranges of one host pattern,
// host[01:50]; leading zeros set the width as in Ansible. Several ranges
// multiply, and their product is counted before anything is expanded.
func expandRange(name string) ([]string, error) {
	n := 1
	for _, m := range rangeRe.FindAllStringSubmatch(name, -1) {
		a, b, err := rangeBounds(name, m[1], m[2])
		if err != nil {
			return nil, err
		}
		if n *= b - a + 1; n > MaxHosts {
			return nil, fmt.Errorf("host pattern %q expands to more than %d hosts", name, MaxHosts)
		}
	}
	return expand(name)
}

// rangeBounds reads one range [lo:hi] of pattern name. A bound that is
// not a number Atoi can hold, hi below lo, or more than MaxHosts names is
// refused: an unchecked bound at the largest int made the expansion loop
// wrap around and run out of memory.
func rangeBounds(name, lo, hi string) (int, int, error) {
	a, errA := strconv.Atoi(lo)
	b, errB := strconv.Atoi(hi)
	if errA != nil || errB != nil || b < a || b-a >= MaxHosts {
		return 0, 0, fmt.Errorf("host pattern %q: bad range [%s:%s] (numbers up to %d, at most %d hosts)", name, lo, hi, math.MaxInt, MaxHosts)
	}
	return a, b, nil
}

func expand(name string) ([]string, error) {
	m := rangeRe.FindStringSubmatchIndex(name)
	if m == nil {
		if strings.ContainsAny(name, "[]") {
			return nil, fmt.Errorf("host pattern %q: only numeric ranges [N:M] are supported", name)
		}
		return []string{name}, nil
	}
	lo, hi := name[m[2]:m[3]], name[m[4]:m[5]]
	a, b, err := rangeBounds(name, lo, hi)
	if err != nil {
		return nil, err
	}
	width := 0
	if len(lo) > 1 && lo[0] == '0' {
		width = len(lo)
	}
	rest, err := expand(name[m[1]:])
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, (b-a+1)*len(rest))
	// Counted, not i <= b: at b = math.MaxInt, i++ wraps and never ends.
	for k := 0; k <= b-a; k++ {
		for _, r := range rest {
			out = append(out, fmt.Sprintf("%s%0*d%s", name[:m[0]], width, a+k, r))
		}
	}
	return out, nil
}

// Hosts returns the hosts of group (with its children; "all" or "" for
// every host), with their variables resolved: host variables over the
// vars of their groups over [all:vars].
func (inv *Inventory) Hosts(group string) ([]Host, error) {
	var names []string
	if group == "" || group == "all" {
		names = inv.order
	} else {
		if _, ok := inv.groups[group]; !ok {
			return nil, fmt.Errorf("inventory has no group %q (groups: %s)", group, strings.Join(inv.sortedGroups(), ", "))
		}
		seen := map[string]bool{}
		var walk func(g string, depth int)
		walk = func(g string, depth int) {
			if depth > 32 {
				return
			}
			for _, h := range inv.groups[g] {
				if !seen[h] {
					seen[h] = true
					names = append(names, h)
				}
			}
			for _, c := range inv.children[g] {
				walk(c, depth+1)
			}
		}
		walk(group, 0)
	}
	var out []Host
	for _, n := range names {
		h := inv.hosts[n]
		vars := map[string]string{}
		for k, v := range inv.vars["all"] {
			vars[k] = v
		}
		for _, g := range inv.gorder {
			if inv.hostInGroup(n, g, 0) {
				for k, v := range inv.vars[g] {
					vars[k] = v
				}
			}
		}
		for k, v := range h.vars {
			vars[k] = v
		}
		ih := Host{Name: n, Addr: n, Port: 22, Groups: h.groups}
		if v := first(vars, "ansible_host", "ansible_ssh_host"); v != "" {
			ih.Addr = v
		}
		if v := first(vars, "ansible_port", "ansible_ssh_port"); v != "" {
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				return nil, fmt.Errorf("inventory host %s: ansible_port %q is not a port", n, v)
			}
			ih.Port = p
		}
		ih.User = first(vars, "ansible_user", "ansible_ssh_user")
		ih.KeyFile = first(vars, "ansible_ssh_private_key_file", "ansible_private_key_file")
		out = append(out, ih)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("inventory group %q has no hosts", group)
	}
	return out, nil
}

func (inv *Inventory) hostInGroup(host, g string, depth int) bool {
	if depth > 32 {
		return false
	}
	if slices.Contains(inv.groups[g], host) {
		return true
	}
	for _, c := range inv.children[g] {
		if inv.hostInGroup(host, c, depth+1) {
			return true
		}
	}
	return false
}

func (inv *Inventory) sortedGroups() []string {
	gs := append([]string{}, inv.gorder...)
	sort.Strings(gs)
	return gs
}

func first(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

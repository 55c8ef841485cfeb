package storageconf

import (
	"fmt"
	"strconv"
	"strings"
)

// DriverStatus is the devicemapper driver's GET /info DriverStatus, as
// moby's daemon/graphdriver/devmapper/driver.go Status() writes it
// (docker 1.13 to 20.10): "Pool Name", "Data file"/"Metadata file" (the
// devices), "Data loop file"/"Metadata loop file" (only when loopback
// files are used), and "Data Space Used"/"Total"/"Available" and the same
// for metadata as go-units HumanSize strings ("11.8GB"; docker before
// 1.12 wrote "11.8 GB").
type DriverStatus map[string]string

// NewDriverStatus indexes the pairs.
func NewDriverStatus(pairs [][2]string) DriverStatus {
	m := DriverStatus{}
	for _, p := range pairs {
		m[p[0]] = p[1]
	}
	return m
}

// UsedPercent returns used/total*100 for "Data" or "Metadata".
func (d DriverStatus) UsedPercent(what string) (float64, error) {
	used, err := ParseSize(d[what+" Space Used"])
	if err != nil {
		return 0, fmt.Errorf("%s Space Used: %w", what, err)
	}
	total, err := ParseSize(d[what+" Space Total"])
	if err != nil {
		return 0, fmt.Errorf("%s Space Total: %w", what, err)
	}
	if total <= 0 {
		return 0, fmt.Errorf("%s Space Total is %q", what, d[what+" Space Total"])
	}
	return used / total * 100, nil
}

// ParseSize reads a go-units size: a number, optional blank, and a unit
// of B, kB/KB, MB, ... (powers of 1000, as HumanSize writes them) or
// KiB, MiB, ... (powers of 1024).
func ParseSize(s string) (float64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] == '.' || (s[i] >= '0' && s[i] <= '9') || s[i] == 'e' || s[i] == '+' || s[i] == '-') {
		i++
	}
	// "1e+03" is a number; "1 EB" is not "1e" and "B".
	for i > 0 && (s[i-1] == 'e' || s[i-1] == '+' || s[i-1] == '-') {
		i--
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	unit := strings.ToLower(strings.TrimSpace(s[i:]))
	mult := map[string]float64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15, "eb": 1e18, "zb": 1e21, "yb": 1e24,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50, "eib": 1 << 60,
	}
	m, ok := mult[unit]
	if !ok {
		return 0, fmt.Errorf("bad size %q: unknown unit %q", s, unit)
	}
	return n * m, nil
}

// LV is one row of `lvs --noheadings --nameprefixes -o ...`.
type LV map[string]string

// LvsFields are the fields storage.driver asks lvs for.
const LvsFields = "lv_name,vg_name,lv_attr,data_percent,metadata_percent"

// ParseLvs reads `lvs --noheadings --nameprefixes` output. libdm's report
// writer (lvm2 libdm/libdm-report.c, _output_field) prints each field as
// LVM2_<FIELD ID IN UPPER CASE>='value' (no quotes with --unquoted),
// separated by blanks, one LV per line, each line indented by two blanks
// with --noheadings. The keys returned are the field ids in lower case
// without the prefix (lv_name, lv_attr, ...).
func ParseLvs(out string) ([]LV, error) {
	var lvs []LV
	for n, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		lv := LV{}
		for line != "" {
			eq := strings.IndexByte(line, '=')
			if eq < 0 || !strings.HasPrefix(line, "LVM2_") {
				return nil, fmt.Errorf("lvs line %d: expected LVM2_FIELD=value at %q", n+1, truncate(line))
			}
			key := strings.ToLower(line[len("LVM2_"):eq])
			rest := line[eq+1:]
			var val string
			if strings.HasPrefix(rest, "'") {
				end := strings.IndexByte(rest[1:], '\'')
				if end < 0 {
					return nil, fmt.Errorf("lvs line %d: unterminated quote in %s", n+1, key)
				}
				val, rest = rest[1:1+end], rest[2+end:]
			} else {
				sp := strings.IndexAny(rest, " \t")
				if sp < 0 {
					sp = len(rest)
				}
				val, rest = rest[:sp], rest[sp:]
			}
			lv[key] = val
			line = strings.TrimSpace(rest)
		}
		lvs = append(lvs, lv)
	}
	return lvs, nil
}

// IsThinPool reports whether lv_attr's volume type (its first character,
// lvs(8) "lv_attr bits") is 't', a thin pool.
func (lv LV) IsThinPool() bool { return strings.HasPrefix(lv["lv_attr"], "t") }

// Percent parses a percentage field ("12.34"; lvm may print "12,34" in
// a locale with a decimal comma).
func (lv LV) Percent(field string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(lv[field]), ",", "."), 64)
	return v, err == nil
}

package cloudinitfmt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Stage is one stage's entry in status.json.
type Stage struct {
	Name     string
	Errors   []string
	Start    *float64
	Finished *float64
	// Recoverable holds warnings and deprecations by level (cloud-init
	// 23.4 and later); they do not fail a stage.
	Recoverable map[string][]string
}

// Status is status.json: "v1" holds "datasource", "stage" (the stage
// running now, null when none) and one object per stage.
//
// The shape is cloud-init's status_wrapper (cloudinit/cmd/main.py): 17.1
// has the stages init-local, init, modules-config, modules-final with
// "errors", "start", "finished" (epoch seconds); 22.x adds modules-init;
// 23.4 and later (here 26.2) drop modules-init, add "recoverable_errors"
// and write uptime seconds. Unknown keys are kept as stages when they are
// objects, so a later stage is not silently ignored.
type Status struct {
	Datasource string
	// Running is the stage cloud-init is in; empty when none.
	Running string
	Stages  []Stage
}

// stageOrder is the order cloud-init runs its stages.
var stageOrder = map[string]int{"init-local": 0, "init": 1, "modules-init": 2, "modules-config": 3, "modules-final": 4}

// ParseStatus parses status.json.
func ParseStatus(b []byte) (*Status, error) {
	var top struct {
		V1 map[string]json.RawMessage `json:"v1"`
	}
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, err
	}
	if top.V1 == nil {
		return nil, errors.New(`no "v1" object`)
	}
	s := &Status{}
	for k, raw := range top.V1 {
		switch k {
		case "datasource", "stage":
			var v *string
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("v1.%s: %w", k, err)
			}
			if v != nil && k == "datasource" {
				s.Datasource = *v
			} else if v != nil {
				s.Running = *v
			}
			continue
		}
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			continue // not a stage (a future scalar key)
		}
		var st struct {
			Errors      []any               `json:"errors"`
			Start       *float64            `json:"start"`
			Finished    *float64            `json:"finished"`
			Recoverable map[string][]string `json:"recoverable_errors"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("v1.%s: %w", k, err)
		}
		stage := Stage{Name: k, Start: st.Start, Finished: st.Finished, Recoverable: st.Recoverable}
		for _, e := range st.Errors {
			stage.Errors = append(stage.Errors, errText(e))
		}
		s.Stages = append(s.Stages, stage)
	}
	sort.Slice(s.Stages, func(i, j int) bool {
		oi, iok := stageOrder[s.Stages[i].Name]
		oj, jok := stageOrder[s.Stages[j].Name]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return s.Stages[i].Name < s.Stages[j].Name
	})
	return s, nil
}

// errText renders one entry of an errors list; cloud-init writes strings
// (str() of an exception or of a (module, exception) tuple).
func errText(e any) string {
	if s, ok := e.(string); ok {
		return s
	}
	b, _ := json.Marshal(e)
	return string(b)
}

// Stage returns the stage named name, or nil.
func (s *Status) Stage(name string) *Stage {
	for i := range s.Stages {
		if s.Stages[i].Name == name {
			return &s.Stages[i]
		}
	}
	return nil
}

// Result is result.json, written when modules-final ends: the datasource
// and the errors of every stage.
type Result struct {
	Datasource string
	Errors     []string
}

// ParseResult parses result.json.
func ParseResult(b []byte) (*Result, error) {
	var top struct {
		V1 *struct {
			Datasource *string `json:"datasource"`
			Errors     []any   `json:"errors"`
		} `json:"v1"`
	}
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, err
	}
	if top.V1 == nil {
		return nil, errors.New(`no "v1" object`)
	}
	r := &Result{}
	if top.V1.Datasource != nil {
		r.Datasource = *top.V1.Datasource
	}
	for _, e := range top.V1.Errors {
		r.Errors = append(r.Errors, errText(e))
	}
	return r, nil
}

// InstanceData is what the checks use of instance-data.json (cloud-init
// 18.3 and later; cloudinit/sources/__init__.py, _get_standardized_metadata):
// the standardized "v1" keys.
type InstanceData struct {
	LocalHostname string
	PublicSSHKeys []string
}

// ParseInstanceData parses instance-data.json. Both spellings of the v1
// keys exist (local_hostname and local-hostname); the underscore one is
// read first.
func ParseInstanceData(b []byte) (*InstanceData, error) {
	var top struct {
		V1 map[string]json.RawMessage `json:"v1"`
	}
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, err
	}
	if top.V1 == nil {
		return nil, errors.New(`no "v1" object`)
	}
	d := &InstanceData{}
	for _, k := range []string{"local_hostname", "local-hostname"} {
		if raw, ok := top.V1[k]; ok {
			var v *string
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("v1.%s: %w", k, err)
			}
			if v != nil {
				d.LocalHostname = *v
				break
			}
		}
	}
	if raw, ok := top.V1["public_ssh_keys"]; ok {
		var keys []string
		if err := json.Unmarshal(raw, &keys); err != nil {
			return nil, fmt.Errorf("v1.public_ssh_keys: %w", err)
		}
		d.PublicSSHKeys = keys
	}
	return d, nil
}

// CloudConfig is what the checks use of a cloud-config (the instance's
// cloud-config.txt, the merged #cloud-config parts of the user-data, or
// cloud.cfg).
type CloudConfig struct {
	Hostname          string
	FQDN              string
	PreferFQDN        bool
	PreserveHostname  bool
	SSHAuthorizedKeys []string
	// Users are the entries of "users" that carry keys; "default" means
	// the default user.
	Users []User
	// DefaultUser is system_info.default_user.name, or the "user" key.
	DefaultUser string
	// Runcmd is true when runcmd was given.
	Runcmd bool
}

// User is one entry of the users list.
type User struct {
	Name string
	Keys []string
}

// ParseCloudConfig parses cloud-config YAML. Only the keys the checks use
// are read; their types are checked, everything else is ignored as
// cloud-init's schema allows.
func ParseCloudConfig(b []byte) (*CloudConfig, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	c := &CloudConfig{}
	var err error
	str := func(key string) string {
		s, ok := raw[key].(string)
		if raw[key] != nil && !ok && err == nil {
			err = fmt.Errorf("%s: want a string, got %T", key, raw[key])
		}
		return s
	}
	c.Hostname = str("hostname")
	c.FQDN = str("fqdn")
	c.PreferFQDN, _ = raw["prefer_fqdn_over_hostname"].(bool)
	c.PreserveHostname, _ = raw["preserve_hostname"].(bool)
	if c.SSHAuthorizedKeys, err = keyList(raw["ssh_authorized_keys"], "ssh_authorized_keys", err); err != nil {
		return nil, err
	}
	_, c.Runcmd = raw["runcmd"]
	switch u := raw["user"].(type) {
	case string:
		c.DefaultUser = u
	case map[string]any:
		c.DefaultUser, _ = u["name"].(string)
	}
	if si, ok := raw["system_info"].(map[string]any); ok && c.DefaultUser == "" {
		if du, ok := si["default_user"].(map[string]any); ok {
			c.DefaultUser, _ = du["name"].(string)
		}
	}
	if users, ok := raw["users"].([]any); ok {
		for i, u := range users {
			switch u := u.(type) {
			case string:
				c.Users = append(c.Users, User{Name: u})
			case map[string]any:
				name, _ := u["name"].(string)
				keys, kerr := keyList(u["ssh_authorized_keys"], fmt.Sprintf("users[%d].ssh_authorized_keys", i), nil)
				if kerr != nil {
					return nil, kerr
				}
				// The hyphenated spelling is the older one, still accepted.
				more, kerr := keyList(u["ssh-authorized-keys"], fmt.Sprintf("users[%d].ssh-authorized-keys", i), nil)
				if kerr != nil {
					return nil, kerr
				}
				c.Users = append(c.Users, User{Name: name, Keys: append(keys, more...)})
			}
		}
	}
	return c, err
}

func keyList(v any, key string, prev error) ([]string, error) {
	if prev != nil {
		return nil, prev
	}
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		var out []string
		for i, k := range v {
			s, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: want a string, got %T", key, i, k)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: want a list of keys, got %T", key, v)
}

// SeedMetaData is what the checks use of a NoCloud seed's meta-data
// (YAML): the host name and the public keys. cloud-init 17.x keeps no
// instance-data.json, so on such hosts the seed is where the datasource's
// requests can still be read.
type SeedMetaData struct {
	LocalHostname string
	PublicKeys    []string
}

// ParseSeedMetaData parses NoCloud meta-data; "public-keys" may be a
// string, a list, or a map of names to keys (EC2 style).
func ParseSeedMetaData(b []byte) (*SeedMetaData, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	m := &SeedMetaData{}
	m.LocalHostname, _ = raw["local-hostname"].(string)
	if m.LocalHostname == "" {
		m.LocalHostname, _ = raw["hostname"].(string)
	}
	for _, key := range []string{"public-keys", "public_keys"} {
		switch v := raw[key].(type) {
		case map[string]any:
			names := make([]string, 0, len(v))
			for n := range v {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				ks, err := keyList(v[n], key+"."+n, nil)
				if err != nil {
					return nil, err
				}
				m.PublicKeys = append(m.PublicKeys, ks...)
			}
		default:
			ks, err := keyList(v, key, nil)
			if err != nil {
				return nil, err
			}
			m.PublicKeys = append(m.PublicKeys, ks...)
		}
	}
	return m, nil
}

package storageconf

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Flags are the storage settings given to dockerd, from its command line
// (dockerd(8): --storage-driver/-s, --storage-opt, --data-root/-g/--graph,
// --config-file) or from daemon.json ("storage-driver", "storage-opts",
// "data-root", "graph").
type Flags struct {
	Driver     string   `json:"driver,omitempty"`
	Opts       []string `json:"opts,omitempty"`
	DataRoot   string   `json:"data_root,omitempty"`
	ConfigFile string   `json:"config_file,omitempty"`
}

// Opt returns the value of storage option key (dm.thinpooldev, ...).
func (f Flags) Opt(key string) string {
	for _, o := range f.Opts {
		if k, v, ok := strings.Cut(o, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// ParseFlags picks the storage flags out of a dockerd argument list. It
// knows which of dockerd's flags take a value only for the storage flags;
// the rest are skipped word by word, which is safe because the storage
// flags' names cannot be another flag's value.
func ParseFlags(args []string) (Flags, error) {
	var f Flags
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		// -sVALUE: pflag allows a short flag's value attached.
		if strings.HasPrefix(a, "-s") && len(a) > 2 && a[2] != '=' && !strings.HasPrefix(a, "--") {
			name, val, hasVal = "-s", a[2:], true
		}
		var dst *string
		switch name {
		case "--storage-driver", "-s":
			dst = &f.Driver
		case "--data-root", "-g", "--graph":
			dst = &f.DataRoot
		case "--config-file":
			dst = &f.ConfigFile
		case "--storage-opt":
			if !hasVal {
				if i+1 >= len(args) {
					return f, fmt.Errorf("%s without a value", name)
				}
				i++
				val = args[i]
			}
			f.Opts = append(f.Opts, val)
			continue
		default:
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return f, fmt.Errorf("%s without a value", name)
			}
			i++
			val = args[i]
		}
		*dst = val
	}
	return f, nil
}

// ParseDaemonJSON reads the storage keys of /etc/docker/daemon.json.
// Unknown keys are the daemon's business and ignored here.
func ParseDaemonJSON(data []byte) (Flags, error) {
	var v struct {
		Driver   string   `json:"storage-driver"`
		Opts     []string `json:"storage-opts"`
		DataRoot string   `json:"data-root"`
		Graph    string   `json:"graph"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return Flags{}, err
	}
	f := Flags{Driver: v.Driver, Opts: v.Opts, DataRoot: v.DataRoot}
	if f.DataRoot == "" {
		f.DataRoot = v.Graph
	}
	return f, nil
}

package storageconf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
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

// ParseDaemonJSON reads the storage keys of /etc/docker/daemon.json the
// way dockerd reads the file (moby's daemon/config/config.go,
// getConflictFreeConfiguration): a byte order mark decides the encoding
// (UTF-8, or UTF-16 as Windows tools write it), a file of nothing but
// white space is an empty configuration, and anything else must be one
// JSON object or dockerd refuses to start ("unable to configure the
// Docker daemon with file ..."): the error says so, with the line.
// Unknown keys are the daemon's business and ignored here.
func ParseDaemonJSON(data []byte) (Flags, error) {
	var v struct {
		Driver   string   `json:"storage-driver"`
		Opts     []string `json:"storage-opts"`
		DataRoot string   `json:"data-root"`
		Graph    string   `json:"graph"`
	}
	data, err := decodeBOM(data)
	if err != nil {
		return Flags{}, fmt.Errorf("dockerd will not start on it: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Flags{}, nil
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return Flags{}, fmt.Errorf("not valid JSON, dockerd will not start on it: %s", jsonErr(data, err))
	}
	f := Flags{Driver: v.Driver, Opts: v.Opts, DataRoot: v.DataRoot}
	if f.DataRoot == "" {
		f.DataRoot = v.Graph
	}
	return f, nil
}

// decodeBOM returns data as UTF-8: a UTF-8 byte order mark is dropped and
// UTF-16 with one is decoded, as moby's BOMOverride does; without one
// the data must be valid UTF-8 (moby's UTF8Validator).
func decodeBOM(data []byte) ([]byte, error) {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xef, 0xbb, 0xbf}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		order = binary.LittleEndian
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		order = binary.BigEndian
	}
	if order == nil {
		if !utf8.Valid(data) {
			return nil, errors.New("not valid UTF-8")
		}
		return data, nil
	}
	data = data[2:]
	if len(data)%2 != 0 {
		return nil, errors.New("UTF-16 with an odd number of bytes")
	}
	units := make([]uint16, len(data)/2)
	for i := range units {
		units[i] = order.Uint16(data[2*i:])
	}
	return []byte(string(utf16.Decode(units))), nil
}

// jsonErr is err with the line of data it happened on, where
// encoding/json gives an offset.
func jsonErr(data []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err.Error()
	}
	return fmt.Sprintf("line %d: %v", bytes.Count(data[:off], []byte("\n"))+1, err)
}

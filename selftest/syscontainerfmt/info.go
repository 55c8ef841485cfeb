package syscontainerfmt

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Info is the atomic CLI's "info" file of an installed system container
// (Atomic/syscontainers.py _write_info_file, projectatomic/atomic at
// d5f3f19, 2020): JSON written with indent 4.
type Info struct {
	Image        string `json:"image"`
	Revision     string `json:"revision"`
	OstreeCommit string `json:"ostree-commit"`
	// HasContainerService is false for containers installed without a
	// systemd unit (the image's manifest says noContainerService); absent
	// means true, as the atomic CLI reads it.
	HasContainerService *bool  `json:"has-container-service"`
	Runtime             string `json:"runtime"`
}

// Service reports whether the container has a systemd service.
func (i *Info) Service() bool { return i.HasContainerService == nil || *i.HasContainerService }

// ParseInfo parses an info file.
func ParseInfo(b []byte) (*Info, error) {
	var i Info
	if err := json.Unmarshal(b, &i); err != nil {
		return nil, err
	}
	if i.Image == "" {
		return nil, errors.New(`no "image"`)
	}
	return &i, nil
}

// RuncState is what the check uses of runc's state.json
// (libcontainer's State and BaseState, opencontainers/runc 1.1).
type RuncState struct {
	ID  string `json:"id"`
	PID int    `json:"init_process_pid"`
	// Start is the init process's start time in clock ticks since boot,
	// field 22 of /proc/PID/stat: it tells a reused pid from the init.
	Start   uint64    `json:"init_process_start"`
	Created time.Time `json:"created"`
}

// ParseRuncState parses runc's state.json.
func ParseRuncState(b []byte) (*RuncState, error) {
	var s RuncState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if s.ID == "" || s.PID <= 0 {
		return nil, fmt.Errorf("no container id or init pid (id %q, pid %d)", s.ID, s.PID)
	}
	return &s, nil
}

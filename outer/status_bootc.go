package outer

// bootc's host status: `bootc status --format=json --format-version=1`.

import (
	"encoding/json"
	"fmt"
)

// BootcStatusArgv reads a bootc host's status in its stable interface:
// bootc documents `bootc status --format=json --format-version=1` as what
// programs drive it by (bootc-dev/bootc docs/src/bootc-via-api.md,
// docs/src/man/bootc-status.8.md; the flags are in crates/lib/src/cli.rs,
// StatusOpts).
var BootcStatusArgv = []string{"bootc", "status", "--format=json", "--format-version=1"}

// bootcHost is the subset of bootc's BootcHost the driver reads. The
// field names are bootc's (crates/lib/src/spec.rs: Host, HostStatus,
// BootEntry, ImageStatus, ImageReference, BootEntryOstree; serde
// camelCase), as in its fixtures (crates/lib/src/fixtures/
// spec-staged-booted.yaml, whose shape testdata/bootc-status-*.json
// follows).
type bootcHost struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Status     struct {
		Staged         *bootcEntry `json:"staged"`
		Booted         *bootcEntry `json:"booted"`
		Rollback       *bootcEntry `json:"rollback"`
		RollbackQueued bool        `json:"rollbackQueued"`
	} `json:"status"`
}

type bootcEntry struct {
	Image *struct {
		Image struct {
			Image     string `json:"image"`
			Transport string `json:"transport"`
		} `json:"image"`
		Version     string `json:"version"`
		ImageDigest string `json:"imageDigest"`
	} `json:"image"`
	Ostree *struct {
		Stateroot    string `json:"stateroot"`
		Checksum     string `json:"checksum"`
		DeploySerial int    `json:"deploySerial"`
	} `json:"ostree"`
}

// ParseBootcStatus parses bootc's status JSON into the deployment list in
// ostree's order, the first being the next boot's: a staged entry first;
// else, with a rollback queued (rollbackQueued: the rollback entry sorts
// before the booted one, crates/lib/src/status.rs), the rollback entry;
// else the booted one. The refspec is bootc's image reference as
// TRANSPORT:IMAGE.
func ParseBootcStatus(data []byte) (*Status, error) {
	var h bootcHost
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("bootc status: %w", err)
	}
	if h.Kind != "BootcHost" {
		return nil, fmt.Errorf("bootc status: kind %q, want BootcHost", h.Kind)
	}
	st := h.Status
	var order []*bootcEntry
	switch {
	case st.Staged != nil:
		order = []*bootcEntry{st.Staged, st.Booted, st.Rollback}
	case st.RollbackQueued:
		order = []*bootcEntry{st.Rollback, st.Booted}
	default:
		order = []*bootcEntry{st.Booted, st.Rollback}
	}
	var s Status
	for _, e := range order {
		if e == nil {
			continue
		}
		if e.Ostree == nil || e.Ostree.Checksum == "" {
			// A composefs-backend entry has no ostree commit.
			return nil, fmt.Errorf("bootc status: an entry without ostree.checksum (the composefs backend is not supported)")
		}
		d := HostDeployment{OSName: e.Ostree.Stateroot, Checksum: e.Ostree.Checksum, Serial: e.Ostree.DeploySerial,
			Booted: e == st.Booted, Staged: e == st.Staged}
		if e.Image != nil {
			d.Version = e.Image.Version
			d.Refspec = e.Image.Image.Transport + ":" + e.Image.Image.Image
			d.ImageDigest = e.Image.ImageDigest
		}
		s.Deployments = append(s.Deployments, d)
	}
	return &s, nil
}

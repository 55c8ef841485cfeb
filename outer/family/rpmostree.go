package family

import (
	"encoding/json"
	"fmt"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// rpmOstreeStatus is the subset of `rpm-ostree status --json` the driver
// reads. The field names are rpm-ostree's (src/daemon/
// rpmostreed-deployment-utils.cxx, rpmostreed_deployment_generate_variant,
// rpm-ostree 2018.x to 2024.x); `atomic host status --json` prints the
// same document, since atomic host delegates to rpm-ostree.
type rpmOstreeStatus struct {
	Deployments []struct {
		OSName            string   `json:"osname"`
		Checksum          string   `json:"checksum"`
		Serial            int      `json:"serial"`
		Version           string   `json:"version"`
		Origin            string   `json:"origin"`
		Booted            bool     `json:"booted"`
		Staged            bool     `json:"staged"`
		BaseChecksum      string   `json:"base-checksum"`
		RequestedPackages []string `json:"requested-packages"`
		Packages          []string `json:"packages"`
	} `json:"deployments"`
}

// ParseRpmOstreeStatus parses `rpm-ostree status --json`.
func ParseRpmOstreeStatus(data []byte) (*Status, error) {
	var raw rpmOstreeStatus
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("rpm-ostree status --json: %w", err)
	}
	var s Status
	for i, d := range raw.Deployments {
		if d.Checksum == "" {
			return nil, fmt.Errorf("rpm-ostree status --json: deployment %d has no checksum", i)
		}
		pk := d.Packages
		if len(pk) == 0 {
			pk = d.RequestedPackages
		}
		s.Deployments = append(s.Deployments, Entry{Deployment: record.Deployment{OSName: d.OSName, Checksum: d.Checksum, Serial: d.Serial,
			Version: d.Version, Refspec: d.Origin, LayeredPackages: pk, BaseChecksum: d.BaseChecksum}, Booted: d.Booted, Staged: d.Staged})
	}
	return &s, nil
}

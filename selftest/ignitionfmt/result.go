package ignitionfmt

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// Result is /etc/.ignition-result.json, Ignition's
// internal/exec/stages/files/filesystemEntries.go ResultFile (field
// names from its JSON tags; coreos/ignition). Fedora CoreOS's
// overlay.d/05core/usr/libexec/coreos-ignition-write-issues
// (coreos/fedora-coreos-config) reads the same fields.
type Result struct {
	ProvisioningBootID string    `json:"provisioningBootID"`
	ProvisioningDate   time.Time `json:"provisioningDate"`
	UserConfigProvided bool      `json:"userConfigProvided"`
	// PreviousReport is the result of an earlier Ignition run on the
	// same disk, when there was one; kept raw.
	PreviousReport json.RawMessage `json:"previousReport,omitempty"`
}

// MaxResult bounds the result file: a few hundred bytes, more with a
// previous report.
const MaxResult = 64 << 10

// bootIDRe is the form of /proc/sys/kernel/random/boot_id, which
// Ignition copies into provisioningBootID.
var bootIDRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ParseResult decodes the result file; name is used in errors.
func ParseResult(name string, data []byte) (*Result, error) {
	if len(data) > MaxResult {
		return nil, fmt.Errorf("%s is %d bytes, more than %d", name, len(data), MaxResult)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", name, err)
	}
	for _, k := range []string{"provisioningBootID", "provisioningDate", "userConfigProvided"} {
		if _, ok := raw[k]; !ok {
			return nil, fmt.Errorf("%s has no %s", name, k)
		}
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", name, err)
	}
	if !bootIDRe.MatchString(r.ProvisioningBootID) {
		return nil, fmt.Errorf("%s: provisioningBootID %q is not a boot id", name, r.ProvisioningBootID)
	}
	if r.ProvisioningDate.IsZero() {
		return nil, fmt.Errorf("%s: provisioningDate is the zero time", name)
	}
	return &r, nil
}

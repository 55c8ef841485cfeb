// Package bootc reads the host status bootc prints with
// `bootc status --format=json --format-version=1`: the BootcHost object
// of bootc's crates/lib/src/spec.rs (bootc-dev/bootc; containers/bootc
// lib/src/spec.rs before the move), apiVersion org.containers.bootc/v1.
// bootc has no D-Bus API; its documented stable interface is this JSON
// (docs/src/bootc-via-api.md). Only the fields the self-test compares
// are decoded; unknown fields are ignored, as bootc adds them over time.
package bootc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// MaxStatus bounds the status document: a host has a handful of
// deployments, each well under a kilobyte.
const MaxStatus = 1 << 20

// StatusArgv is the command that prints the status, in the form bootc
// documents as stable (docs/src/man/bootc-status.8.md).
var StatusArgv = []string{"bootc", "status", "--format=json", "--format-version=1"}

// Host is spec.rs's Host: apiVersion, kind, spec, status.
type Host struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Spec       HostSpec   `json:"spec"`
	Status     HostStatus `json:"status"`
}

// HostSpec is what the host should follow (spec.rs HostSpec).
type HostSpec struct {
	// Image is null on a host bootc does not manage.
	Image     *ImageReference `json:"image"`
	BootOrder string          `json:"bootOrder,omitempty"`
}

// ImageReference is spec.rs's ImageReference: an image and the transport
// it is fetched with ("registry", "oci", "containers-storage", ...).
type ImageReference struct {
	Image     string `json:"image"`
	Transport string `json:"transport"`
	// Signature is an enum in spec.rs ("insecure" or
	// {ostreeRemote: name}); kept raw.
	Signature json.RawMessage `json:"signature,omitempty"`
}

// HostStatus is spec.rs's HostStatus.
type HostStatus struct {
	Staged           *BootEntry  `json:"staged"`
	Booted           *BootEntry  `json:"booted"`
	Rollback         *BootEntry  `json:"rollback"`
	OtherDeployments []BootEntry `json:"otherDeployments,omitempty"`
	RollbackQueued   bool        `json:"rollbackQueued"`
	Type             *string     `json:"type"`
	ReadOnly         bool        `json:"readOnly"`
}

// BootEntry is one deployment (spec.rs BootEntry).
type BootEntry struct {
	Image        *ImageStatus `json:"image"`
	Incompatible bool         `json:"incompatible"`
	Pinned       bool         `json:"pinned"`
	Store        *string      `json:"store,omitempty"`
	// Ostree is null on a composefs-native (not ostree) deployment.
	Ostree    *OstreeEntry    `json:"ostree"`
	Composefs json.RawMessage `json:"composefs,omitempty"`
}

// ImageStatus is the image a deployment was made from (spec.rs
// ImageStatus): its reference, version label, creation time and manifest
// digest.
type ImageStatus struct {
	Image        ImageReference `json:"image"`
	Version      string         `json:"version,omitempty"`
	Timestamp    *time.Time     `json:"timestamp,omitempty"`
	ImageDigest  string         `json:"imageDigest"`
	Architecture string         `json:"architecture,omitempty"`
}

// OstreeEntry names the ostree deployment (spec.rs BootEntryOstree).
type OstreeEntry struct {
	Stateroot    string `json:"stateroot"`
	Checksum     string `json:"checksum"`
	DeploySerial int    `json:"deploySerial"`
}

// Managed reports whether bootc manages the host: it has a booted entry
// (docs/src/man/bootc-status.8.md: status.booted is null otherwise).
func (h *Host) Managed() bool { return h.Status.Booted != nil }

// Composefs reports whether the booted entry is a composefs-native
// deployment (status.booted.composefs set, as bootc's
// tmt/tests/booted tests detect it).
func (h *Host) Composefs() bool {
	b := h.Status.Booted
	return b != nil && len(b.Composefs) > 0 && !bytes.Equal(b.Composefs, []byte("null"))
}

// Parse decodes a status document. It rejects documents over MaxStatus,
// another kind or API version, and entries with malformed checksums or
// digests, so that a comparison never runs on garbage.
func Parse(data []byte) (*Host, error) {
	if len(data) > MaxStatus {
		return nil, fmt.Errorf("bootc status is %d bytes, more than %d", len(data), MaxStatus)
	}
	var h Host
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("decoding bootc status: %w", err)
	}
	if h.Kind != "BootcHost" {
		return nil, fmt.Errorf("bootc status: kind %q, expected BootcHost", h.Kind)
	}
	// v1 is what --format-version=1 promises; v1alpha1 is what bootc
	// printed before 1.0 (its fixtures still carry it).
	if h.APIVersion != "org.containers.bootc/v1" && h.APIVersion != "org.containers.bootc/v1alpha1" {
		return nil, fmt.Errorf("bootc status: apiVersion %q, expected org.containers.bootc/v1", h.APIVersion)
	}
	for _, e := range h.Entries() {
		if err := e.Entry.validate(); err != nil {
			return nil, fmt.Errorf("bootc status: %s: %w", e.Role, err)
		}
	}
	return &h, nil
}

// RoleEntry is an entry with the role bootc gives it.
type RoleEntry struct {
	Role  string // staged, booted, rollback, other
	Entry *BootEntry
}

// Entries lists the non-null entries: staged, booted, rollback, others.
func (h *Host) Entries() []RoleEntry {
	var out []RoleEntry
	for _, e := range []RoleEntry{{"staged", h.Status.Staged}, {"booted", h.Status.Booted}, {"rollback", h.Status.Rollback}} {
		if e.Entry != nil {
			out = append(out, e)
		}
	}
	for i := range h.Status.OtherDeployments {
		out = append(out, RoleEntry{"other", &h.Status.OtherDeployments[i]})
	}
	return out
}

func (e *BootEntry) validate() error {
	if o := e.Ostree; o != nil {
		if !isHex(o.Checksum, 64) {
			return fmt.Errorf("ostree.checksum %q is not 64 hex digits", o.Checksum)
		}
		if o.DeploySerial < 0 {
			return fmt.Errorf("ostree.deploySerial %d is negative", o.DeploySerial)
		}
	}
	if im := e.Image; im != nil {
		alg, hex, ok := strings.Cut(im.ImageDigest, ":")
		if !ok || alg != "sha256" || !isHex(hex, 64) {
			return fmt.Errorf("image.imageDigest %q is not sha256:<64 hex digits>", im.ImageDigest)
		}
	}
	return nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Reference is the image as users write it (bootc switch, rpm-ostree
// rebase): the image for the registry transport, transport:image
// otherwise.
func (r ImageReference) String() string {
	if r.Transport == "" || r.Transport == "registry" {
		return r.Image
	}
	return r.Transport + ":" + r.Image
}

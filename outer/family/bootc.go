package family

// bootc's host status, decoded by selftest/bootc (the one reader of
// `bootc status --format=json --format-version=1` in the project) and laid
// out as the deployment list the driver judges.

import (
	"errors"

	"github.com/atomic-selftest/atomic-selftest/selftest/bootc"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// bootcStatusArgv is bootc's status in its stable form (bootc.StatusArgv).
var bootcStatusArgv = bootc.StatusArgv

// ParseBootcStatus parses bootc's status JSON into the deployment list in
// ostree's order, the first being the next boot's: a staged entry first;
// else, with a rollback queued (rollbackQueued: the rollback entry sorts
// before the booted one, bootc crates/lib/src/status.rs), the rollback
// entry; else the booted one. A deployment's ImageReference is bootc's
// image reference as users write it (bootc.ImageReference.String).
func ParseBootcStatus(data []byte) (*Status, error) {
	h, err := bootc.Parse(data)
	if err != nil {
		return nil, err
	}
	st := h.Status
	var order []*bootc.BootEntry
	switch {
	case st.Staged != nil:
		order = []*bootc.BootEntry{st.Staged, st.Booted, st.Rollback}
	case st.RollbackQueued:
		order = []*bootc.BootEntry{st.Rollback, st.Booted}
	default:
		order = []*bootc.BootEntry{st.Booted, st.Rollback}
	}
	var s Status
	for _, e := range order {
		if e == nil {
			continue
		}
		if e.Ostree == nil {
			// A composefs-backend entry has no ostree commit.
			return nil, errors.New("bootc status: an entry without ostree.checksum (the composefs backend is not supported)")
		}
		d := Entry{Deployment: record.Deployment{OSName: e.Ostree.Stateroot, Checksum: e.Ostree.Checksum, Serial: e.Ostree.DeploySerial},
			Booted: e == st.Booted, Staged: e == st.Staged}
		if e.Image != nil {
			d.Version = e.Image.Version
			d.ImageReference = e.Image.Image.String()
			d.ImageDigest = e.Image.ImageDigest
		}
		s.Deployments = append(s.Deployments, d)
	}
	return &s, nil
}

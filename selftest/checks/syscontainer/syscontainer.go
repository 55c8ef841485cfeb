// Package syscontainer owns the system container checks (C10). System
// containers are the atomic CLI's: OCI images pulled into an OSTree
// repository (refs ociimage/<encoded name:tag>), checked out under
// /var/lib/containers/atomic/<name>.<0|1> with a <name> symlink to the
// live one, described by an "info" JSON file and a runtime-spec
// config.json, run by runc under a systemd service of the same name.
//
//   - syscontainer.installed reads that layout (the format of
//     Atomic/syscontainers.py in projectatomic/atomic) and the runc state
//     (state.json under runc's root) and names every broken container.
//   - syscontainer.run proves the whole path without the atomic CLI or a
//     network: the probe binary as an OCI image, copied with
//     containers/image into the self-test's own image store, unpacked into
//     a bundle, run by runc, verified by its marker and removed.
//   - syscontainer.atomic, when an image is configured, runs the atomic
//     CLI's own sequence: pull, install, start, uninstall.
package syscontainer

import (
	"context"
	"os"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "syscontainer.run",
		Criterion:   "C10",
		Required:    true,
		Description: "an OCI image of the probe is copied into the image store, unpacked into a bundle and run by runc; its marker proves the sandbox and nothing is left",
		Timeout:     3 * time.Minute,
		Applies:     needRoot,
		Run:         checkRun,
	})
}

func init() {
	selftest.Register(&selftest.Check{
		ID:          "syscontainer.installed",
		Criterion:   "C10",
		Required:    true,
		Description: "every installed system container has its info, config.json, image ref in the ostree repository, an active unit and a live runc container",
		Timeout:     time.Minute,
		Offline:     true,
		Run:         checkInstalled,
	})
	selftest.Register(&selftest.Check{
		ID:          "syscontainer.atomic",
		Criterion:   "C10",
		Required:    false,
		Description: "with syscontainer.image set: atomic pull --storage ostree, atomic install --system, systemctl start (active within syscontainer.start_timeout), atomic uninstall",
		Timeout:     30 * time.Minute,
		Applies:     atomicApplies,
		Run:         checkAtomic,
	})
}

func needRoot(_ context.Context, h *selftest.Host) string {
	if os.Geteuid() != 0 {
		return "runc needs root to create containers; the self-test is not running as root"
	}
	return ""
}

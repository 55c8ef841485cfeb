package host

import (
	"context"
	"errors"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
	"github.com/atomic-selftest/atomic-selftest/selftest/sysfmt"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.machineid",
		Criterion:   "HOST",
		Required:    true,
		Description: "/etc/machine-id is a valid id (32 lowercase hex digits, not all zero); \"uninitialized\" only during the first boot",
		Timeout:     10 * time.Second,
		Run:         checkMachineID,
	})
}

// firstBoot is the flag systemd leaves while the first boot runs
// (ConditionFirstBoot=, machine-id(5)).
const firstBoot = "/run/systemd/first-boot"

// checkMachineID reads /etc/machine-id: the journal, D-Bus and DHCP
// client ids are keyed on it, so a broken or all-zero id (an image that
// shipped one, a failed first boot) breaks them all on a running host.
func checkMachineID(_ context.Context, t *selftest.T) {
	const p = "/etc/machine-id"
	b, err := t.Host.ReadFile(p, rootfs.Config)
	if err != nil {
		t.Fail("%s cannot be read: %v", p, err)
		return
	}
	id, err := sysfmt.CheckMachineID(b)
	t.Evidence(p, "32 lowercase hex digits, not all zero", id)
	switch {
	case errors.Is(err, sysfmt.ErrUninitialized) && t.Host.Exists(firstBoot):
		t.Pass("%s is \"uninitialized\" while the first boot runs (%s exists): systemd commits the id when it completes", p, firstBoot)
	case errors.Is(err, sysfmt.ErrUninitialized):
		t.Fail("%s is \"uninitialized\" after the first boot (no %s): the first boot never completed", p, firstBoot)
	case err != nil:
		t.Fail("%s: %v", p, err)
	default:
		t.Pass("%s is a valid machine id", p)
	}
}

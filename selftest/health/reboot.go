package health

import (
	"context"
	"fmt"
	"time"

	"github.com/godbus/dbus/v5"
)

// Rebooter asks the service manager for a reboot. RequestReboot returns
// once the request is queued; the reboot itself follows.
type Rebooter interface {
	RequestReboot(ctx context.Context) error
}

// rebootTimeout bounds the D-Bus call (systemd answers once the job is
// queued).
const rebootTimeout = 30 * time.Second

// SystemdRebooter starts reboot.target through systemd's D-Bus API,
// org.freedesktop.systemd1.Manager.StartUnit(name, mode) on the system
// bus (org.freedesktop.systemd1(5)), in mode replace-irreversibly as
// `systemctl reboot` does, so a later job cannot cancel it.
type SystemdRebooter struct{}

// RequestReboot implements Rebooter.
func (SystemdRebooter) RequestReboot(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, rebootTimeout)
	defer cancel()
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("requesting the reboot: connecting to the system bus: %w", err)
	}
	defer conn.Close()
	var job dbus.ObjectPath
	obj := conn.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
	if err := obj.CallWithContext(ctx, "org.freedesktop.systemd1.Manager.StartUnit", 0, "reboot.target", "replace-irreversibly").Store(&job); err != nil {
		return fmt.Errorf("requesting the reboot: StartUnit(reboot.target, replace-irreversibly): %w", err)
	}
	return nil
}

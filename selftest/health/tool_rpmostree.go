package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"

	"github.com/godbus/dbus/v5"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

// rpmOstree rolls back through rpmostreed's D-Bus API, the one the
// rpm-ostree CLI (and `atomic host rollback`, which runs it) is a client
// of. The interface is coreos/rpm-ostree's
// src/daemon/org.projectatomic.rpmostree1.xml: the Sysroot object
// /org/projectatomic/rpmostree1/Sysroot of org.projectatomic.rpmostree1
// names the booted OS object (property Booted, o); OS.Rollback(a{sv}
// options) returns a transaction's private D-Bus address (s); on that
// peer connection the Transaction object "/" is started with Start() → b
// and ends with the signal Finished(b success, s error_message). The
// client side of this dance is src/app/rpmostree-clientlib.cxx
// (transaction_connect: a peer connection, object path "/").
//
// Where rpmostreed is not on the system bus (the call cannot be made,
// so no transaction began) the CLI `rpm-ostree rollback` is the
// fallback. The host is rpm-ostree-managed when `rpm-ostree status
// --json` lists a booted deployment (deployments[].booted).
type rpmOstree struct {
	cmd selftest.Commander
}

func (rpmOstree) Name() string { return "rpm-ostree" }

// D-Bus names from org.projectatomic.rpmostree1.xml.
const (
	rpmostreeBusName     = "org.projectatomic.rpmostree1"
	rpmostreeSysroot     = dbus.ObjectPath("/org/projectatomic/rpmostree1/Sysroot")
	rpmostreeIface       = "org.projectatomic.rpmostree1"
	rpmostreeTransaction = rpmostreeIface + ".Transaction"
)

func (r rpmOstree) manages(ctx context.Context) (bool, error) {
	if _, err := exec.LookPath("rpm-ostree"); err != nil {
		return false, nil
	}
	out, _, err := r.cmd.Command(ctx, detectTimeout, "rpm-ostree", "status", "--json")
	if err != nil {
		return false, fmt.Errorf("asking rpm-ostree whether it manages this host: %w", err)
	}
	var st struct {
		Deployments []struct {
			Booted bool `json:"booted"`
		} `json:"deployments"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return false, fmt.Errorf("rpm-ostree status --json: %w", err)
	}
	for _, d := range st.Deployments {
		if d.Booted {
			return true, nil
		}
	}
	return false, nil
}

// errNoDaemon: rpmostreed could not be asked; nothing was started.
var errNoDaemon = errors.New("rpmostreed is not reachable on the system bus")

func (r rpmOstree) Rollback(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, rollbackTimeout)
	defer cancel()
	addr, err := startRollback(ctx)
	if errors.Is(err, errNoDaemon) {
		if _, _, cerr := r.cmd.Command(ctx, rollbackTimeout, "rpm-ostree", "rollback"); cerr != nil {
			return fmt.Errorf("rpm-ostree rollback (after %v): %w", err, cerr)
		}
		return nil
	}
	if err != nil {
		return err
	}
	return runTransaction(ctx, addr)
}

// startRollback calls OS.Rollback on the booted OS and returns the
// transaction's address.
func startRollback(ctx context.Context) (string, error) {
	conn, err := dbus.ConnectSystemBus(dbus.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("%w: %w", errNoDaemon, err)
	}
	defer conn.Close()
	v, err := conn.Object(rpmostreeBusName, rpmostreeSysroot).GetProperty(rpmostreeIface + ".Sysroot.Booted")
	if err != nil {
		var de dbus.Error
		if errors.As(err, &de) && (de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" || de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
			return "", fmt.Errorf("%w: %w", errNoDaemon, err)
		}
		return "", fmt.Errorf("rpmostreed: reading Sysroot.Booted: %w", err)
	}
	osPath, ok := v.Value().(dbus.ObjectPath)
	if !ok || !osPath.IsValid() || osPath == "/" {
		return "", fmt.Errorf("rpmostreed: Sysroot.Booted is %v, expected the booted OS's object path", v)
	}
	var addr string
	if err := conn.Object(rpmostreeBusName, osPath).CallWithContext(ctx, rpmostreeIface+".OS.Rollback", 0, map[string]dbus.Variant{}).Store(&addr); err != nil {
		return "", fmt.Errorf("rpmostreed: %s Rollback: %w", osPath, err)
	}
	return addr, nil
}

// runTransaction starts the transaction at addr and waits for Finished.
func runTransaction(ctx context.Context, addr string) error {
	conn, err := dbus.Dial(addr, dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("rpmostreed: connecting to the rollback transaction at %s: %w", addr, err)
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return fmt.Errorf("rpmostreed: authenticating to the rollback transaction: %w", err)
	}
	signals := make(chan *dbus.Signal, 64)
	conn.Signal(signals)
	var started bool
	if err := conn.Object("", "/").CallWithContext(ctx, rpmostreeTransaction+".Start", 0).Store(&started); err != nil {
		return fmt.Errorf("rpmostreed: starting the rollback transaction: %w", err)
	}
	for {
		select {
		case s, ok := <-signals:
			if !ok {
				return errors.New("rpmostreed: the rollback transaction closed before Finished")
			}
			if s.Name != rpmostreeTransaction+".Finished" {
				continue
			}
			var success bool
			var msg string
			if err := dbus.Store(s.Body, &success, &msg); err != nil {
				return fmt.Errorf("rpmostreed: Finished signal: %w", err)
			}
			if !success {
				return fmt.Errorf("rpmostreed: the rollback failed: %s", msg)
			}
			return nil
		case <-ctx.Done():
			return fmt.Errorf("rpmostreed: waiting for the rollback transaction: %w", ctx.Err())
		}
	}
}

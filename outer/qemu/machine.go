package qemu

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/ssh"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

// SSHParams is what an SSH transport needs to reach the guest: the
// forwarded address, the key the seed authorised for root, and a
// known_hosts file already holding the guest's host key (the seed gave the
// guest that key), so host keys are checked strictly from the first connect.
type SSHParams struct {
	Name       string
	Addr       string
	User       string
	KeyFile    string
	KnownHosts string
}

// Dialer makes the SSH transport for a VM (ssh.New in the driver).
type Dialer func(SSHParams) (transport.Machine, error)

// Machine is a QEMU guest as an transport.Machine: commands, files, reboots and
// boot ids go over SSH; Console comes from the serial log; Close stops the
// VM after closing the connection.
type Machine struct {
	transport.Machine
	VM *VM
}

var _ transport.Machine = (*Machine)(nil)

// NewMachine joins a started VM with an SSH transport made by dial.
func NewMachine(vm *VM, dial Dialer) (*Machine, error) {
	if dial == nil {
		return nil, errors.New("qemu: no SSH dialer")
	}
	m, err := dial(SSHParams{
		Name:       vm.cfg.Name,
		Addr:       vm.SSHAddr(),
		User:       "root",
		KeyFile:    vm.KeyFile(),
		KnownHosts: vm.KnownHosts(),
	})
	if err != nil {
		return nil, fmt.Errorf("qemu %s: ssh: %w", vm.cfg.Name, err)
	}
	return &Machine{Machine: m, VM: vm}, nil
}

// DialSSH is the Dialer that uses the driver's own SSH transport, host key
// checked against the known_hosts the VM wrote from its seed.
func DialSSH(p SSHParams) (transport.Machine, error) {
	return ssh.New(ssh.Config{Name: p.Name, Addr: p.Addr, User: p.User, KeyFile: p.KeyFile, KnownHosts: p.KnownHosts})
}

// Boot starts a VM (see Start) and joins it with the driver's SSH
// transport: what the outer CLI needs for a local QEMU host.
func Boot(ctx context.Context, cfg Config) (*Machine, error) {
	vm, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	m, err := NewMachine(vm, DialSSH)
	if err != nil {
		vm.Close()
		return nil, err
	}
	return m, nil
}

// Console implements transport.Machine from the captured serial console.
func (m *Machine) Console(n int) []string { return m.VM.Console(n) }

// Close implements transport.Machine: the connection first, then the VM.
func (m *Machine) Close() error {
	err := m.Machine.Close()
	if verr := m.VM.Close(); verr != nil {
		return verr
	}
	return err
}

// WaitBooted waits for the guest's sshd, so the first command does not race
// the boot. It is bounded by ctx and ends early when QEMU exits.
func (m *Machine) WaitBooted(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := m.VM.WaitSSH(ctx)
	return err
}

package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
)

// Tool is the host's deployment tool, which owns the deployment list: a
// rollback goes through it, never through a write of our own.
type Tool interface {
	// Name is what Health.Tool records: bootc, rpm-ostree or command.
	Name() string
	// Rollback makes the rollback deployment the default for the next
	// boot. It returns once the tool has written it (or failed).
	Rollback(ctx context.Context) error
}

// Bounds on the deployment tool: asking whether it manages the host, and
// the rollback itself (a bootloader update included).
const (
	detectTimeout   = 30 * time.Second
	rollbackTimeout = 5 * time.Minute
)

// ErrNoTool: no deployment tool manages this host and no
// health.rollback_command is configured.
var ErrNoTool = errors.New("no deployment tool for a rollback")

// Detect returns the tool health.tool names, or with "auto" the first
// that manages this host: bootc, then rpm-ostree, then the configured
// command.
func Detect(ctx context.Context, p config.Health, cmd selftest.Commander) (Tool, error) {
	command := func() (Tool, error) {
		if len(p.RollbackCommand) == 0 {
			return nil, fmt.Errorf("%w: neither bootc nor rpm-ostree manages this host, and health.rollback_command is not set (a plain ostree host needs it)", ErrNoTool)
		}
		return commandTool{argv: p.RollbackCommand, cmd: cmd}, nil
	}
	switch p.Tool {
	case config.HealthToolBootc:
		return bootc{cmd: cmd}, nil
	case config.HealthToolRPMOstree:
		return rpmOstree{cmd: cmd}, nil
	case config.HealthToolCommand:
		return command()
	}
	var why []error
	if ok, err := (bootc{cmd: cmd}).manages(ctx); ok {
		return bootc{cmd: cmd}, nil
	} else if err != nil {
		why = append(why, err)
	}
	if ok, err := (rpmOstree{cmd: cmd}).manages(ctx); ok {
		return rpmOstree{cmd: cmd}, nil
	} else if err != nil {
		why = append(why, err)
	}
	t, err := command()
	if err != nil {
		return nil, errors.Join(append([]error{err}, why...)...)
	}
	return t, nil
}

// commandTool runs health.rollback_command by argv, for a plain ostree
// host whose ostree has no rollback verb (Debian 12's 2022.7).
type commandTool struct {
	argv []string
	cmd  selftest.Commander
}

func (commandTool) Name() string { return "command" }

func (c commandTool) Rollback(ctx context.Context) error {
	if _, _, err := c.cmd.Command(ctx, rollbackTimeout, c.argv...); err != nil {
		return fmt.Errorf("health.rollback_command: %w", err)
	}
	return nil
}

// Package family puts each kind of OSTree host the outer driver knows
// behind one interface, as containers/podman puts its local and remote
// engines behind one: how the host's deployments are read (the status
// command and its format), how an upgrade source is made for it (an
// ostree commit or a container image), what its placeholders expand to
// and how the effect of an upgrade or a deploy of an older version is
// judged, and the state that needs (the upgrade made, the older version
// found, the images built). The families are ostree (plain `ostree
// admin`), rpm-ostree (also atomic host hosts: `atomic host` delegates to
// rpm-ostree and prints its status) and bootc. The driver (package
// outer) never asks which family a host is.
package family

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Family is one kind of host, bound to one machine for one run of its
// plan. Its methods are called from the host's goroutine only.
type Family interface {
	// Name is the family's name as plans write it (plan.Families).
	Name() string
	// Tool is the command the family needs on the host's PATH; a host
	// without it cannot run the family's plan.
	Tool() string
	// Status reads the host's deployments with the family's status
	// command; raw is the command's output, for the artifacts.
	Status(ctx context.Context) (st *Status, raw []byte, err error)
	// UpgradeSource makes a newer version of the booted one that the
	// family's upgrade command will find, and says what it made.
	UpgradeSource(ctx context.Context) (string, error)
	// Placeholder is the value of a plan placeholder the family knows:
	// {upgrade_version}, {older_version}, {older_checksum}. ok is false
	// for any other placeholder.
	Placeholder(ctx context.Context, name string) (value string, ok bool, err error)
	// Verify judges the default deployment def after a deployment
	// command that was to make change (plan.ChangeUpgrade or
	// plan.ChangeOlder): nil when it is the upgrade source or the older
	// version. Other changes are the same for every family and are the
	// driver's to judge.
	Verify(ctx context.Context, change string, def *record.Deployment) error
	// Deployed tells the family that a deployment command changed the
	// deployments: what "older" means is found again.
	Deployed()
}

// Config is what every family is given.
type Config struct {
	Machine transport.Machine
	// Repo is the host's ostree repository (/ostree/repo).
	Repo string
	// UpgradeRef is the ref the upgrade source commits to (the plan's).
	UpgradeRef string
	// CommandTimeout bounds a command that downloads or builds a tree.
	CommandTimeout time.Duration
}

// New is the family name for the machine in c.
func New(name string, c Config) (Family, error) {
	switch name {
	case "ostree":
		return &tree{Config: c, name: "ostree", statusArgv: []string{"ostree", "admin", "status"}, parse: ParseOstreeAdminStatus}, nil
	case "rpm-ostree":
		// rpm-ostreed caches the sysroot: after the driver points the
		// origin elsewhere, reload makes it read the origin again.
		return &tree{Config: c, name: "rpm-ostree", statusArgv: []string{"rpm-ostree", "status", "--json"}, parse: ParseRpmOstreeStatus,
			reloadArgv: []string{"rpm-ostree", "reload"}}, nil
	case "bootc":
		return &bootcFamily{tree: tree{Config: c, name: "bootc", statusArgv: bootcStatusArgv, parse: ParseBootcStatus}}, nil
	}
	return nil, fmt.Errorf("host family %q: want one of %s", name, strings.Join(plan.Families, ", "))
}

// HasPackage reports whether d layers package p.
func HasPackage(d *record.Deployment, p string) bool { return slices.Contains(d.LayeredPackages, p) }

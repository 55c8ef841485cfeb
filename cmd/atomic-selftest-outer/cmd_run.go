package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/atomic-selftest/atomic-selftest/cmd/internal/exit"
	"github.com/atomic-selftest/atomic-selftest/outer"
	"github.com/atomic-selftest/atomic-selftest/outer/inventory"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/qemu"
	"github.com/atomic-selftest/atomic-selftest/outer/ssh"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

// runOptions are the flags of `run`.
type runOptions struct {
	hosts           []string
	inventory       string
	group           string
	user            string
	identity        string
	agent           bool
	knownHosts      string
	acceptNew       bool
	planFile        string
	profile         string
	profileSet      bool // --profile given, not defaulted
	packages        []string
	artifacts       string
	parallel        int
	connectTimeout  time.Duration
	rebootTimeout   time.Duration
	selftestTimeout time.Duration
	commandTimeout  time.Duration
	pollInterval    time.Duration
	qemuImages      []string
	qemuAccel       string
	qemuProvision   string
	qemuIgnition    string
	qemuFirmware    string
}

func (o *runOptions) flags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.hosts, "host", nil, "a host to drive: HOST, HOST:PORT or USER@HOST:PORT (repeatable)")
	fs.StringVar(&o.inventory, "inventory", "", "an Ansible INI inventory file of hosts")
	fs.StringVar(&o.group, "group", "all", "the inventory group to drive (with its children)")
	fs.StringVarP(&o.user, "user", "l", "root", "the SSH user where the host or inventory names none")
	fs.StringVarP(&o.identity, "identity", "i", "", "an unencrypted SSH private key file")
	fs.BoolVar(&o.agent, "agent", false, "authenticate with the ssh-agent at $SSH_AUTH_SOCK")
	home, _ := os.UserHomeDir()
	fs.StringVar(&o.knownHosts, "known-hosts", filepath.Join(home, ".ssh", "known_hosts"), "the known_hosts file host keys are checked against")
	fs.BoolVar(&o.acceptNew, "accept-new-host-key", false, "trust and record the key of a host not yet in known_hosts (a changed key is always refused)")
	fs.StringVar(&o.planFile, "plan", "", "a plan `FILE` (TOML); the plan command prints the built-in ones to start from")
	fs.StringVar(&o.profile, "profile", "auto", "the built-in plan: auto (per host, the one that fits its tools), bootc, default (rpm-ostree and atomic host), rpm-ostree (default without atomic host) or ostree (plain ostree admin)")
	fs.StringArrayVar(&o.packages, "package", nil, "a package to layer in install steps (repeatable; replaces the plan's packages)")
	fs.StringVar(&o.artifacts, "artifacts", "", "the directory for artifacts and reports (default ./atomic-selftest-outer-<time>)")
	fs.IntVar(&o.parallel, "parallel", 8, "how many hosts run at once")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 15*time.Second, "bound on one SSH connect and handshake")
	fs.DurationVar(&o.rebootTimeout, "reboot-timeout", 10*time.Minute, "bound on a reboot until the host answers with a new boot id")
	fs.DurationVar(&o.selftestTimeout, "selftest-timeout", 15*time.Minute, "bound on the wait for a boot's self-test run record")
	fs.DurationVar(&o.commandTimeout, "command-timeout", 30*time.Minute, "bound on one deployment command")
	fs.StringArrayVar(&o.qemuImages, "qemu-image", nil, "boot a local QEMU guest from this disk `IMAGE` (on a throwaway overlay, NoCloud seed, SSH forwarded to loopback, console in the artifacts) and drive it as one more host (repeatable)")
	fs.StringVar(&o.qemuAccel, "qemu-accel", qemu.AccelTCG, "QEMU accelerator: tcg, kvm, or auto (kvm only when a probe boot works)")
	fs.StringVar(&o.qemuProvision, "qemu-provision", qemu.ProvisionAuto, "how the QEMU guest gets the driver's SSH key and host name on its first boot: cloud-init (a NoCloud seed), ignition (an Ignition config on fw_cfg), or auto (ignition where the image's boot partition has an ignition.firstboot stamp or a boot entry naming ignition.firstboot or ignition.platform.id=, else cloud-init)")
	fs.StringVar(&o.qemuIgnition, "qemu-ignition", "", "an Ignition config `FILE` (spec 3.0.0 to 3.3.0) merged into the driver's for the QEMU guest: its users, files and units are kept, the driver's SSH key and host name are added")
	fs.StringVar(&o.qemuFirmware, "qemu-firmware", qemu.FirmwareBIOS, "the QEMU guest's firmware: bios (SeaBIOS) or uefi (Debian's OVMF)")
	fs.DurationVar(&o.pollInterval, "poll-interval", 500*time.Millisecond, "first interval when polling a rebooting host or its self-test (doubles up to 20 times that)")
}

var runCommand = &command{
	name:  "run",
	usage: "run [OPTIONS]",
	short: "run a plan against hosts",
	help: `Drives every host through the plan, then writes
junit.xml, report.json, report.html, report.md and criteria.txt into the
artifacts directory and prints the criteria table.

By default (--profile auto) each host gets, after its preflight, the
built-in plan that fits its deployment tools: bootc hosts the bootc plan
(bootc upgrade, switch, rollback; unproved on a real bootc host),
rpm-ostree hosts the default
plan (baseline, rpm-ostree and atomic host upgrade, rollback, deploy of an
older version and package install, each followed by a reboot and the
host's self-test; the atomic host steps only where the atomic CLI exists),
plain ostree hosts the ostree plan. The reports name each host's plan. A
plan named with --profile or --plan that the host's tools cannot run
fails that host once, at preflight, naming the missing tool and the
profile to use.

`,
	flags: func(fs *pflag.FlagSet) func(context.Context, *env, []string) error {
		var o runOptions
		o.flags(fs)
		return func(ctx context.Context, e *env, args []string) error {
			o.profileSet = fs.Changed("profile")
			return runRun(ctx, e, o, args)
		}
	},
}

// runRun validates the flags (each message names its flag), connects the
// hosts, runs the plan with outer.Run and writes the reports.
func runRun(ctx context.Context, e *env, o runOptions, args []string) error {
	if len(args) > 0 {
		return usagef("run takes no arguments (got %q); name hosts with --host or --inventory", args)
	}
	p, err := choosePlan(o.planFile, o.profile, o.profileSet)
	if err != nil {
		return err
	}
	if len(o.packages) > 0 {
		p.Packages = o.packages
		if err := p.Validate(); err != nil {
			return usagef("--package: %v", err)
		}
	}
	if o.parallel < 1 {
		return usagef("--parallel %d: want at least 1", o.parallel)
	}
	for _, d := range []struct {
		flag string
		d    time.Duration
	}{{"--connect-timeout", o.connectTimeout}, {"--reboot-timeout", o.rebootTimeout}, {"--selftest-timeout", o.selftestTimeout},
		{"--command-timeout", o.commandTimeout}, {"--poll-interval", o.pollInterval}} {
		if d.d <= 0 {
			return usagef("%s %s: want a positive duration", d.flag, d.d)
		}
	}
	hosts, err := o.hostList()
	if err != nil {
		return err
	}
	if len(hosts) == 0 && len(o.qemuImages) == 0 {
		return usagef("no hosts: give --host, --inventory or --qemu-image")
	}
	if len(hosts) > 0 && o.identity == "" && !o.agent {
		return usagef("no credentials: give --identity FILE or --agent")
	}
	switch o.qemuAccel {
	case qemu.AccelTCG, qemu.AccelKVM, "auto":
	default:
		return usagef("--qemu-accel %q: want tcg, kvm or auto", o.qemuAccel)
	}
	for _, img := range o.qemuImages {
		if fi, err := os.Stat(img); err != nil || !fi.Mode().IsRegular() {
			return usagef("--qemu-image %s: not a readable disk image file", img)
		}
	}
	switch o.qemuProvision {
	case qemu.ProvisionAuto, qemu.ProvisionCloudInit, qemu.ProvisionIgnition:
	default:
		return usagef("--qemu-provision %q: want auto, cloud-init or ignition", o.qemuProvision)
	}
	switch o.qemuFirmware {
	case qemu.FirmwareBIOS, qemu.FirmwareUEFI:
	default:
		return usagef("--qemu-firmware %q: want bios or uefi", o.qemuFirmware)
	}
	if o.qemuIgnition != "" {
		if o.qemuProvision == qemu.ProvisionCloudInit {
			return usagef("--qemu-ignition needs --qemu-provision ignition or auto, not cloud-init")
		}
		if _, err := qemu.ParseAdminIgnition(o.qemuIgnition); err != nil {
			return usagef("--qemu-ignition: %v", err)
		}
	}
	var machines []transport.Machine
	if len(hosts) > 0 {
		machines, err = inventory.Machines(hosts, ssh.Config{User: o.user, KeyFile: o.identity, Agent: o.agent,
			KnownHosts: o.knownHosts, AcceptNewHostKey: o.acceptNew, DialTimeout: o.connectTimeout,
			NewHostKeyHint: "pass --accept-new-host-key to trust it on first contact"})
		if err != nil {
			return usageError(err)
		}
	}
	defer func() {
		for _, m := range machines {
			m.Close()
		}
	}()
	dir := o.artifacts
	if dir == "" {
		dir = "atomic-selftest-outer-" + time.Now().UTC().Format("20060102T150405Z")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return usagef("--artifacts: %v", err)
	}
	for i, img := range o.qemuImages {
		m, err := qemu.BootGuest(ctx, dir, fmt.Sprintf("qemu%d", i+1), img, qemu.Config{Accel: o.qemuAccel,
			Provision: o.qemuProvision, IgnitionConfig: o.qemuIgnition, Firmware: o.qemuFirmware, Stderr: e.stderr}, o.rebootTimeout)
		if err != nil {
			return fmt.Errorf("--qemu-image %s: %w", img, err)
		}
		machines = append(machines, m)
	}
	prog := outer.NewProgress(e.stderr, e.tty, len(machines), len(p.Steps))
	rep := outer.Run(ctx, machines, outer.Options{Plan: p, ArtifactsDir: dir, Parallel: o.parallel,
		RebootTimeout: o.rebootTimeout, SelftestTimeout: o.selftestTimeout, CommandTimeout: o.commandTimeout, OnEvent: prog.Event,
		PlanHint: func(plan string) string { return "use --profile " + plan },
		Poll:     outer.Backoff{Min: o.pollInterval, Max: 20 * o.pollInterval}})
	prog.Stop()
	werr := rep.WriteFiles(dir)
	fmt.Fprintln(e.stdout)
	rep.WriteTable(e.stdout)
	fmt.Fprintf(e.stdout, "artifacts and reports: %s\n", dir)
	switch {
	case werr != nil:
		return werr
	case rep.Interrupted:
		return exit.Status(ExitInterrupted)
	case !rep.OK:
		return exit.Status(ExitFailed)
	}
	return nil
}

// hostList is the hosts of --host and --inventory, in that order.
func (o *runOptions) hostList() ([]inventory.Host, error) {
	var hosts []inventory.Host
	for _, h := range o.hosts {
		ih, err := inventory.ParseHostArg(h)
		if err != nil {
			return nil, usagef("--host: %v", err)
		}
		hosts = append(hosts, ih)
	}
	if o.inventory != "" {
		inv, err := inventory.Load(o.inventory)
		if err != nil {
			return nil, usageError(err)
		}
		ih, err := inv.Hosts(o.group)
		if err != nil {
			return nil, usagef("--inventory %s: %v", o.inventory, err)
		}
		hosts = append(hosts, ih...)
	}
	return hosts, nil
}

// choosePlan is the plan of --plan FILE or --profile NAME (they exclude
// each other).
func choosePlan(file, profile string, profileSet bool) (*plan.Plan, error) {
	if file != "" {
		if profileSet {
			return nil, usagef("--plan and --profile exclude each other")
		}
		p, err := plan.Load(file)
		if err != nil {
			return nil, usageError(err)
		}
		return p, nil
	}
	mk, ok := plan.Profiles[profile]
	if !ok {
		return nil, usagef("--profile %q: want one of %s", profile, strings.Join(plan.ProfileNames, ", "))
	}
	return mk(), nil
}

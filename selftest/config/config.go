// Package config owns atomic-selftest's configuration: TOML files in
// /usr/lib/atomic-selftest/config.d (vendor) overlaid by
// /etc/atomic-selftest/config.d (admin), read in that order and, within a
// directory, in lexical order of file name. A later file's scalar keys
// replace earlier ones; check lists (disable, demote) accumulate, and
// `enable` takes a check back out of `disable`.
//
// Every area owns one section. Unknown keys and bad values are errors that
// name the file and the key.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// Directories read by default, vendor first.
var (
	VendorDir = "/usr/lib/atomic-selftest/config.d"
	AdminDir  = "/etc/atomic-selftest/config.d"
)

// Config is the merged configuration.
type Config struct {
	Checks       Checks       `toml:"checks"`
	Results      Results      `toml:"results"`
	Report       Report       `toml:"report"`
	Runtime      Runtime      `toml:"runtime"`
	Storage      Storage      `toml:"storage"`
	Syscontainer Syscontainer `toml:"syscontainer"`
	Cloudinit    Cloudinit    `toml:"cloudinit"`
	Deployment   Deployment   `toml:"deployment"`
	Health       Health       `toml:"health"`
	Site         Site         `toml:"site"`
	Policy       Policy       `toml:"policy"`
	// The host-wide signals (docs/criteria.md, HOST): config/signals.go.
	Journal Journal `toml:"journal"`
	Units   Units   `toml:"units"`

	// Files lists the files that were read, in order.
	Files []string `toml:"-"`
	// DisabledBy and DemotedBy map a check id to the file that named it.
	DisabledBy map[string]string `toml:"-"`
	DemotedBy  map[string]string `toml:"-"`
}

// Checks selects and weighs checks.
type Checks struct {
	// Disable lists checks that are not run (reported as skipped).
	Disable []string `toml:"disable"`
	// Enable takes checks back out of an earlier file's Disable.
	Enable []string `toml:"enable"`
	// Demote lists required checks that only count as wanted here.
	Demote []string `toml:"demote"`
	// RunTimeout bounds a whole run.
	RunTimeout Duration `toml:"run_timeout"`
}

// Results controls what is kept under the results directory.
type Results struct {
	// Keep is how many run records are kept; older ones are pruned.
	Keep int `toml:"keep"`
	// LockTimeout is how long a run waits for another run to finish.
	LockTimeout Duration `toml:"lock_timeout"`
}

// Report says where a saved run is published besides its record.
type Report struct {
	// TextfileDir, if set, is node_exporter's textfile collector
	// directory (its --collector.textfile.directory): every saved run
	// replaces atomic-selftest.prom there, the newest run in the
	// Prometheus text format, written atomically with mode 0644.
	TextfileDir string `toml:"textfile_dir"`
}

// Runtime names the container runtime the checks talk to: docker, or a
// podman API service, both through the Docker Engine API on a unix socket.
type Runtime struct {
	// Engine is "auto", "docker" or "podman": auto picks docker when its
	// unit is enabled or its socket exists, else podman when podman.socket
	// or the podman binary is installed (the run's --engine flag overrides
	// it).
	Engine string `toml:"engine"`
	// Socket is the unix socket of docker's API.
	Socket string `toml:"socket"`
	// Unit is docker's systemd service.
	Unit string `toml:"unit"`
	// PodmanSocket is the rootful podman API service's unix socket.
	PodmanSocket string `toml:"podman_socket"`
	// PodmanUnit is the systemd socket unit that starts podman's API
	// service on PodmanSocket.
	PodmanUnit string `toml:"podman_unit"`
	// MaxRestarts is the NRestarts above which the service counts as
	// restarting in a loop.
	MaxRestarts int `toml:"max_restarts"`
	// PingTimeout bounds the daemon's answer to a ping.
	PingTimeout Duration `toml:"ping_timeout"`
	// Atomic is the atomic CLI runtime.atomic-run uses (a name looked up
	// on PATH, or an absolute path); the check skips where it is absent.
	Atomic string `toml:"atomic"`
}

// Storage configures the container storage checks.
type Storage struct {
	// DataPercent and MetadataPercent are the highest thin pool usage
	// that still passes.
	DataPercent     float64 `toml:"data_percent"`
	MetadataPercent float64 `toml:"metadata_percent"`
	// Driver, if set, is the storage driver this host must use
	// (overlay2, devicemapper, ...), whatever its files say.
	Driver string `toml:"driver"`
	// SetupUnit is docker-storage-setup's oneshot service, checked where
	// it exists.
	SetupUnit string `toml:"setup_unit"`
	// RuntimeUnitFile is the unit whose command line storage.config reads
	// for storage flags; empty means runtime.unit.
	RuntimeUnitFile string `toml:"runtime_unit_file"`
}

// Syscontainer configures the system container checks.
type Syscontainer struct {
	// Image is the reference syscontainer.atomic pulls; empty turns it off.
	Image string `toml:"image"`
	// Name is the name syscontainer.atomic installs it under.
	Name string `toml:"name"`
	// Runc is the runc binary.
	Runc string `toml:"runc"`
	// StartTimeout bounds how long a system container may take to start.
	StartTimeout Duration `toml:"start_timeout"`
	// StateDir is the self-test's own directory for the probe's image
	// store, bundles and source layouts (syscontainer.run).
	StateDir string `toml:"state_dir"`
	// RuncRoot is the private runc state root the probe containers use,
	// so they never mix with the host's containers.
	RuncRoot string `toml:"runc_root"`
	// CheckoutDir is where the atomic CLI checks system containers out
	// (its checkout_path).
	CheckoutDir string `toml:"checkout_dir"`
	// PreinstalledDir holds the system containers shipped in /usr.
	PreinstalledDir string `toml:"preinstalled_dir"`
	// SystemRuncRoot is the runc root the installed containers run under.
	SystemRuncRoot string `toml:"system_runc_root"`
	// OstreeRepo is the repository holding the system containers' images;
	// empty means the atomic CLI's choice: /ostree/repo when it exists,
	// else CheckoutDir/.storage/ostree.
	OstreeRepo string `toml:"ostree_repo"`
}

// Cloudinit configures the cloud-init checks.
type Cloudinit struct {
	// RequireVirtualized skips the cloud-init checks on bare metal.
	RequireVirtualized bool `toml:"require_virtualized"`
}

// Deployment configures the deployment checks.
type Deployment struct {
	// Stateroot limits the checks to one OS name; empty means the booted.
	Stateroot string `toml:"stateroot"`
	// RPMDBPath is the rpm database deployment.expected asks with
	// `rpm -q --dbpath`; empty means rpm's own default (on rpm-ostree
	// hosts /usr/share/rpm through rpm's macros).
	RPMDBPath string `toml:"rpm_dbpath"`
}

// Health is the policy for a boot-triggered run whose required checks
// failed. The shipped default only records: nothing changes on a host
// that did not opt in. The state it keeps is
// /var/lib/atomic-selftest/health.json.
type Health struct {
	// OnFailure is record (note the failure in the run record and the
	// journal), reboot (reboot the failing deployment to test it again)
	// or rollback (reboot first while attempts are left, then roll back
	// to the previous deployment and reboot).
	OnFailure string `toml:"on_failure"`
	// RebootAttempts is how many times a failing new deployment is
	// rebooted and tested again before it is rolled back (0 to 10).
	RebootAttempts int `toml:"reboot_attempts"`
	// Transitions are the changes of deployment whose failure is acted
	// on: upgrade, deploy, layering, first-boot, unknown. A rollback, a
	// fallback and a boot of the same deployment are never acted on.
	Transitions []string `toml:"transitions"`
	// Tool is the deployment tool that rolls back: auto (bootc where it
	// manages the host, then rpm-ostree, then the command), bootc,
	// rpm-ostree or command.
	Tool string `toml:"tool"`
	// RollbackCommand is the program and arguments (run directly, no
	// shell) that roll back a plain ostree host, whose ostree has no
	// rollback verb; required there.
	RollbackCommand []string `toml:"rollback_command"`
	// BootDeadline is how long after the boot started the boot run must
	// have saved its record; when it has not, atomic-selftest-deadline
	// judges the host as it is (trigger deadline; host.boot fails naming
	// the units the boot still waits for) and, under reboot or rollback,
	// the policy acts on that failure. "0" turns the deadline off; else
	// from 1m (the deadline timer fires at 1 min) to 2h.
	BootDeadline Duration `toml:"boot_deadline"`
	// KeepFallback makes a fallback stick: when the bootloader started
	// another entry than the default (deployment.transition's fallback),
	// the deployment it fell back to is made the default through the same
	// tool, so the next reboot does not start the failed one again. Off by
	// default; independent of on_failure.
	KeepFallback bool `toml:"keep_fallback"`
}

// Bounds of health.boot_deadline: the deadline timer starts the waiting
// service one minute after the boot, and a host that has not finished
// booting after two hours is not waiting for a slow boot.
const (
	MinBootDeadline = time.Minute
	MaxBootDeadline = 2 * time.Hour
)

// Site configures the site's own checks: the executables in
// /usr/lib/atomic-selftest/check.d and /etc/atomic-selftest/check.d and,
// where enabled, greenboot's check scripts.
type Site struct {
	// Timeout bounds each site check that names no timeout of its own;
	// at the timeout its whole process group is killed.
	Timeout Duration `toml:"timeout"`
	// Timeouts overrides Timeout for single files, by file name
	// ("app-health" = "5m" for check.d/required/app-health). Keys
	// accumulate across files; a later file's value for a name wins.
	Timeouts map[string]Duration `toml:"timeouts"`
	// Greenboot runs greenboot's check scripts
	// (/usr/lib/greenboot/check/{required.d,wanted.d} and
	// /etc/greenboot/check/...) as site checks with greenboot's rules.
	Greenboot bool `toml:"greenboot"`
}

// Policy is what every boot must show, judged by site.policy, as opposed
// to an expectation (`atomic-selftest expect`), which lasts one boot. A
// later file's list replaces an earlier file's.
type Policy struct {
	// Units must be active.
	Units []string `toml:"units"`
	// Packages must be in the rpm database, AbsentPackages not.
	Packages       []string `toml:"packages"`
	AbsentPackages []string `toml:"absent_packages"`
}

// Health policies and tools, as written in [health].
const (
	HealthToolAuto      = "auto"
	HealthToolBootc     = "bootc"
	HealthToolRPMOstree = "rpm-ostree"
	HealthToolCommand   = "command"
)

// Defaults returns the built-in configuration.
func Defaults() *Config {
	return &Config{
		Checks:       Checks{RunTimeout: Duration(10 * time.Minute)},
		Results:      Results{Keep: 100, LockTimeout: Duration(5 * time.Minute)},
		Runtime:      Runtime{Engine: EngineAuto, Socket: "/run/docker.sock", Unit: "docker.service", PodmanSocket: "/run/podman/podman.sock", PodmanUnit: "podman.socket", MaxRestarts: 3, PingTimeout: Duration(5 * time.Second), Atomic: "atomic"},
		Storage:      Storage{DataPercent: 90, MetadataPercent: 90, SetupUnit: "docker-storage-setup.service"},
		Syscontainer: defaultSyscontainer(),
		Cloudinit:    Cloudinit{RequireVirtualized: true},
		Site:         Site{Timeout: Duration(60 * time.Second), Timeouts: map[string]Duration{}},
		Policy:       Policy{Units: []string{}, Packages: []string{}, AbsentPackages: []string{}},
		Health:       Health{OnFailure: "record", RebootAttempts: 1, Transitions: []string{"upgrade", "deploy", "layering"}, Tool: HealthToolAuto, RollbackCommand: []string{}, BootDeadline: Duration(10 * time.Minute)},
		DisabledBy:   map[string]string{},
		DemotedBy:    map[string]string{},
		Journal:      defaultJournal(),
		Units:        defaultUnits(),
	}
}

func defaultSyscontainer() Syscontainer {
	return Syscontainer{
		Runc: "runc", StartTimeout: Duration(60 * time.Second),
		StateDir: "/var/lib/atomic-selftest/syscontainer", RuncRoot: "/run/atomic-selftest/runc",
		CheckoutDir: "/var/lib/containers/atomic", PreinstalledDir: "/usr/lib/containers/atomic",
		SystemRuncRoot: "/run/runc",
	}
}

// Load reads the default directories under root ("/" on a live host).
// Under an image's root (run --sysroot) the files are the image's and are
// read through the confined, bounded door (selftest/rootfs): a link in the
// image's configuration never leads to the live host's files.
func Load(root string) (*Config, error) {
	return loadDirs(rootfs.FS{Root: root}, VendorDir, AdminDir)
}

// LoadFor reads the configuration a run against root uses. On the live
// host (root "/") it is the host's own. Against an image or an unbooted
// sysroot (--sysroot) the image is data under test: only what judges the
// image comes from its files ([runtime], [storage], [syscontainer],
// [cloudinit], [deployment], [site], [policy]), and what the run does on
// this host and which checks judge it ([checks], [results], [report],
// [health]) comes from this host's own files, so an image cannot prune
// the live results, write into a directory it names, act on this host or
// disable the checks that would fail it.
func LoadFor(root string) (*Config, error) {
	host, err := Load("/")
	if err != nil {
		return nil, err
	}
	if filepath.Clean(root) == "/" || root == "" {
		return host, nil
	}
	image, err := Load(root)
	if err != nil {
		return nil, err
	}
	return ForImage(image, host), nil
}

// ForImage is image's configuration with the keys that act on this host
// or choose the checks taken from host (see LoadFor).
func ForImage(image, host *Config) *Config {
	c := *image
	c.Checks, c.Results, c.Report, c.Health = host.Checks, host.Results, host.Report, host.Health
	c.DisabledBy, c.DemotedBy = host.DisabledBy, host.DemotedBy
	c.Files = append(append([]string(nil), host.Files...), image.Files...)
	return &c
}

// LoadDirs reads *.toml from each directory of this machine in order over
// the defaults (--config-dir). A missing directory is not an error.
func LoadDirs(dirs ...string) (*Config, error) {
	abs := make([]string, len(dirs))
	for i, d := range dirs {
		a, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("configuration directory %s: %w", d, err)
		}
		abs[i] = a
	}
	return loadDirs(rootfs.FS{}, abs...)
}

func loadDirs(files rootfs.FS, dirs ...string) (*Config, error) {
	cfg := Defaults()
	for _, dir := range dirs {
		entries, err := files.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading configuration directory %s: %w", dir, err)
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".toml") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			if err := cfg.loadFile(files, filepath.Join(dir, n)); err != nil {
				return nil, err
			}
		}
	}
	return cfg, nil
}

// loadFile overlays one file.
func (c *Config) loadFile(files rootfs.FS, path string) error {
	data, err := files.ReadFile(path, rootfs.Config)
	if err != nil {
		return fmt.Errorf("reading configuration %s: %w", path, err)
	}
	// Lists accumulate across files: decode them apart from the scalars.
	prev := c.Checks
	c.Checks.Disable, c.Checks.Enable, c.Checks.Demote = nil, nil, nil
	md, err := toml.Decode(string(data), c)
	if err != nil {
		c.Checks = prev
		return fmt.Errorf("configuration %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		c.Checks = prev
		return fmt.Errorf("configuration %s: unknown key %s", path, strings.Join(keys, ", "))
	}
	if err := c.validate(path); err != nil {
		c.Checks = prev
		return err
	}
	for _, id := range c.Checks.Disable {
		c.DisabledBy[id] = path
	}
	for _, id := range c.Checks.Enable {
		delete(c.DisabledBy, id)
	}
	for _, id := range c.Checks.Demote {
		c.DemotedBy[id] = path
	}
	c.Checks.Disable = union(prev.Disable, c.Checks.Disable, c.Checks.Enable)
	c.Checks.Demote = union(prev.Demote, c.Checks.Demote, nil)
	c.Checks.Enable = nil
	c.Files = append(c.Files, path)
	return nil
}

func union(a, b, minus []string) []string {
	seen := map[string]bool{}
	for _, m := range minus {
		seen[m] = true
	}
	var out []string
	for _, l := range [][]string{a, b} {
		for _, s := range l {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

func (c *Config) validate(path string) error {
	bad := func(key string, format string, args ...any) error {
		return fmt.Errorf("configuration %s: %s: %s", path, key, fmt.Sprintf(format, args...))
	}
	if c.Results.Keep < 1 {
		return bad("results.keep", "must be at least 1, got %d", c.Results.Keep)
	}
	for key, v := range map[string]float64{"storage.data_percent": c.Storage.DataPercent, "storage.metadata_percent": c.Storage.MetadataPercent} {
		if v <= 0 || v > 100 {
			return bad(key, "must be a percentage above 0 and at most 100, got %g", v)
		}
	}
	for key, d := range map[string]Duration{
		"checks.run_timeout": c.Checks.RunTimeout, "results.lock_timeout": c.Results.LockTimeout,
		"runtime.ping_timeout": c.Runtime.PingTimeout, "syscontainer.start_timeout": c.Syscontainer.StartTimeout,
	} {
		if d < 0 {
			return bad(key, "must not be negative")
		}
	}
	for key, p := range map[string]string{
		"syscontainer.state_dir": c.Syscontainer.StateDir, "syscontainer.runc_root": c.Syscontainer.RuncRoot,
		"syscontainer.checkout_dir": c.Syscontainer.CheckoutDir, "syscontainer.preinstalled_dir": c.Syscontainer.PreinstalledDir,
		"syscontainer.system_runc_root": c.Syscontainer.SystemRuncRoot,
	} {
		if !filepath.IsAbs(p) {
			return bad(key, "must be an absolute path, got %q", p)
		}
	}
	if r := c.Syscontainer.OstreeRepo; r != "" && !filepath.IsAbs(r) {
		return bad("syscontainer.ostree_repo", "must be an absolute path or empty, got %q", r)
	}
	if c.Syscontainer.Runc == "" {
		return bad("syscontainer.runc", "must not be empty")
	}
	if c.Syscontainer.Image != "" && c.Syscontainer.Name == "" {
		return bad("syscontainer.name", "must be set when syscontainer.image is")
	}
	if c.Runtime.MaxRestarts < 0 {
		return bad("runtime.max_restarts", "must not be negative, got %d", c.Runtime.MaxRestarts)
	}
	if c.Runtime.Socket == "" || !filepath.IsAbs(c.Runtime.Socket) {
		return bad("runtime.socket", "must be an absolute path, got %q", c.Runtime.Socket)
	}
	if p := c.Report.TextfileDir; p != "" && !filepath.IsAbs(p) {
		return bad("report.textfile_dir", "must be an absolute path or empty, got %q", p)
	}
	if p := c.Deployment.RPMDBPath; p != "" && !filepath.IsAbs(p) {
		return bad("deployment.rpm_dbpath", "must be an absolute path, got %q", p)
	}
	if c.Runtime.Unit == "" {
		return bad("runtime.unit", "must not be empty")
	}
	if err := CheckEngine(c.Runtime.Engine); err != nil {
		return bad("runtime.engine", "%v", err)
	}
	if c.Runtime.PodmanUnit == "" {
		return bad("runtime.podman_unit", "must not be empty")
	}
	if c.Runtime.PodmanSocket == "" || !filepath.IsAbs(c.Runtime.PodmanSocket) {
		return bad("runtime.podman_socket", "must be an absolute path, got %q", c.Runtime.PodmanSocket)
	}
	if c.Runtime.PingTimeout == 0 {
		return bad("runtime.ping_timeout", "must be above zero")
	}
	if c.Runtime.Atomic == "" {
		return bad("runtime.atomic", "must not be empty (name the atomic CLI, or disable runtime.atomic-run)")
	}
	if c.Runtime.Atomic != filepath.Base(c.Runtime.Atomic) && !filepath.IsAbs(c.Runtime.Atomic) {
		return bad("runtime.atomic", "must be a command name or an absolute path, got %q", c.Runtime.Atomic)
	}
	if c.Storage.Driver != "" && !storageDriverPattern.MatchString(c.Storage.Driver) {
		return bad("storage.driver", "%q is not a storage driver name (overlay2, devicemapper, ...)", c.Storage.Driver)
	}
	for key, unit := range map[string]string{"storage.setup_unit": c.Storage.SetupUnit, "storage.runtime_unit_file": c.Storage.RuntimeUnitFile, "runtime.unit": c.Runtime.Unit, "runtime.podman_unit": c.Runtime.PodmanUnit} {
		if unit != "" && !unitPattern.MatchString(unit) {
			return bad(key, "%q is not a systemd unit name (name.service or name.socket)", unit)
		}
	}
	if c.Storage.SetupUnit == "" {
		return bad("storage.setup_unit", "must not be empty")
	}
	if err := c.Site.validate(bad); err != nil {
		return err
	}
	if err := c.Policy.validate(bad); err != nil {
		return err
	}
	if err := c.validateSignals(bad); err != nil {
		return err
	}
	return c.Health.validate(bad)
}

func (s *Site) validate(bad func(key, format string, args ...any) error) error {
	if s.Timeout <= 0 {
		return bad("site.timeout", "must be above zero, got %s", s.Timeout.D())
	}
	for name, d := range s.Timeouts {
		if d <= 0 {
			return bad("site.timeouts."+name, "must be above zero, got %s", d.D())
		}
		if name == "" || strings.ContainsAny(name, "/\x00") {
			return bad("site.timeouts", "%q is not a file name", name)
		}
	}
	return nil
}

func (p *Policy) validate(bad func(key, format string, args ...any) error) error {
	for _, u := range p.Units {
		if !anyUnitPattern.MatchString(u) {
			return bad("policy.units", "%q is not a systemd unit name (name.service, name.mount, name.target, ...)", u)
		}
	}
	for key, l := range map[string][]string{"policy.packages": p.Packages, "policy.absent_packages": p.AbsentPackages} {
		for _, n := range l {
			if !packagePattern.MatchString(n) {
				return bad(key, "%q is not a package name", n)
			}
		}
	}
	return nil
}

func (h *Health) validate(bad func(key, format string, args ...any) error) error {
	switch h.OnFailure {
	case "record", "reboot", "rollback":
	default:
		return bad("health.on_failure", "must be one of record, reboot, rollback, got %q", h.OnFailure)
	}
	if h.RebootAttempts < 0 || h.RebootAttempts > 10 {
		return bad("health.reboot_attempts", "must be from 0 to 10, got %d", h.RebootAttempts)
	}
	for _, k := range h.Transitions {
		switch k {
		case "upgrade", "deploy", "layering", "first-boot", "unknown":
		case "rollback", "same", "fallback":
			return bad("health.transitions", "%q is never eligible: acting on it could undo a rollback or loop", k)
		default:
			return bad("health.transitions", "%q is not a transition kind (upgrade, deploy, layering, first-boot, unknown)", k)
		}
	}
	switch h.Tool {
	case HealthToolAuto, HealthToolBootc, HealthToolRPMOstree, HealthToolCommand:
	default:
		return bad("health.tool", "must be one of auto, bootc, rpm-ostree, command, got %q", h.Tool)
	}
	if h.Tool == HealthToolCommand && len(h.RollbackCommand) == 0 {
		return bad("health.rollback_command", "must be set when health.tool is command")
	}
	if len(h.RollbackCommand) > 0 && h.RollbackCommand[0] == "" {
		return bad("health.rollback_command", "the program (first element) must not be empty")
	}
	if d := h.BootDeadline.D(); d != 0 && (d < MinBootDeadline || d > MaxBootDeadline) {
		return bad("health.boot_deadline", "must be 0 (off) or from %s to %s, got %s", MinBootDeadline, MaxBootDeadline, d)
	}
	return nil
}

var (
	storageDriverPattern = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	unitPattern          = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+\.(service|socket)$`)
	anyUnitPattern       = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|mount|automount|swap|timer|path|slice|scope|device)$`)
	// packagePattern is an rpm name (or name-version): no blank, no
	// option-like leading dash.
	packagePattern = regexp.MustCompile(`^[A-Za-z0-9_+.][A-Za-z0-9_+.:~^-]*$`)
)

// CheckIDs validates the check ids named in the configuration against the
// known ones, naming the file of an unknown id.
func (c *Config) CheckIDs(known func(id string) bool) error {
	for id, file := range c.DisabledBy {
		if !known(id) {
			return fmt.Errorf("configuration %s: checks.disable: unknown check %q", file, id)
		}
	}
	for id, file := range c.DemotedBy {
		if !known(id) {
			return fmt.Errorf("configuration %s: checks.demote: unknown check %q", file, id)
		}
	}
	return nil
}

// Duration is a time.Duration written as a Go duration string ("90s").
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. \"90s\" or \"5m\")", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// The container engines [runtime] engine names.
const (
	EngineAuto   = "auto"
	EngineDocker = "docker"
	EnginePodman = "podman"
)

// CheckEngine returns an error unless e is one of auto, docker, podman.
func CheckEngine(e string) error {
	switch e {
	case EngineAuto, EngineDocker, EnginePodman:
		return nil
	}
	return fmt.Errorf("%q is not one of %s, %s, %s", e, EngineAuto, EngineDocker, EnginePodman)
}

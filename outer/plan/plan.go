// Package plan is what the outer driver does to every host: a plan of
// named steps, each a list of actions (wait-up, upgrade-source, mark, run,
// expect, check-pending, reboot, wait-selftest, collect, check-marks), read from TOML
// and validated with errors that name the step and the field, and the
// built-in plans (profiles) per host family. It is data only: it runs
// nothing and imports nothing of the driver.
package plan

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Families are the values of a plan's family, one per host family the
// driver knows (outer/family).
var Families = []string{"rpm-ostree", "ostree", "bootc"}

// A Plan is what the driver does to every host: a list of steps, each a
// named group of actions proving one criterion (a reboot cycle such as
// "rpm-ostree upgrade, expect the new tree, reboot, wait for the
// self-test, collect"). Reports have one row per step.
type Plan struct {
	Name string `toml:"name"`
	// Family is the kind of host the plan is for (one of Families): the
	// tool the driver reads deployments with and makes the upgrade
	// source with (outer/family). atomic host hosts are of the
	// rpm-ostree family: atomic host delegates to rpm-ostree.
	Family string `toml:"family,omitempty"`
	// Packages are what {package} (the first) and {package2} (the
	// second) expand to in commands and expectations.
	Packages []string `toml:"packages,omitempty"`
	// UpgradeRef is the local ref the upgrade source commits to.
	UpgradeRef string `toml:"upgrade_ref,omitempty"`
	Steps      []Step `toml:"step"`
	// Auto marks the auto profile: its only step is the baseline, and
	// after each host's preflight the driver replaces it with the
	// built-in plan that fits that host (Fit).
	Auto bool `toml:"-"`
}

// Step is one named cycle.
type Step struct {
	Name string `toml:"name"`
	// Criterion is the release criterion the step proves (C3-C6), or
	// empty for the baseline.
	Criterion string   `toml:"criterion,omitempty"`
	Actions   []Action `toml:"action"`
	// ExpectPending is what the host's deployment-change run must say
	// of the pending deployment before the reboot: "pass" (the default;
	// a failing deployment.pending fails the step) or "fail" (the step
	// breaks the pending deployment on purpose and the host must catch
	// it: a check-pending action then passes on the failure).
	ExpectPending string `toml:"expect_pending,omitempty"`
	// IgnorePending has the driver go on anyway: a deployment.pending
	// that fails (or a record without one) is reported with the step
	// ("went on despite it") but does not stop it, and the step reboots
	// into the deployment the host judged. For a release whose known
	// failure the step is there to reproduce; not with expect_pending.
	IgnorePending bool `toml:"ignore_pending,omitempty"`
	// ExpectHostRollback says the host must reject what the step
	// deploys (issue 12): after the step's reboot the boot's self-test
	// fails, the host's health policy rolls back and reboots by itself;
	// the driver waits for that second boot and judges the host back on
	// the deployment it booted before the step.
	ExpectHostRollback bool `toml:"expect_host_rollback,omitempty"`
	// Deployments is how many deployments the host's status must show
	// at the end of the step (0: not checked): the count the step's
	// command should leave (issue 26; ostree, rpm-ostree and bootc keep
	// the booted and the new or rollback one, a cleanup leaves one).
	Deployments int `toml:"deployments,omitempty"`
	// ExpectVarLost says the step's deployment removes the /var data of
	// the step's mark on purpose (a bad release whose tmpfiles.d rule
	// deletes an admin's directory): its check-marks must find every
	// /var file the step marked lost, naming them, and then passes
	// ("caught: ..."). Without it a lost /var file fails the step.
	ExpectVarLost bool `toml:"expect_var_lost,omitempty"`
	// Families, when set, are the host families the step is for: on a
	// plan of another family the step is not applicable (status n/a,
	// with the reason), neither run nor passed, and the host is not
	// failed for it. The ostree plan names layering this way: plain
	// ostree cannot layer packages.
	Families []string `toml:"families,omitempty"`
}

// Action kinds.
const (
	// ActWaitUp waits until the host answers over its transport.
	ActWaitUp = "wait-up"
	// ActUpgradeSource commits a new tree on the host from the booted one
	// (version label, marker file) on the plan's upgrade ref and points
	// the booted deployment's origin at it.
	ActUpgradeSource = "upgrade-source"
	// ActRun runs a deployment command by argv.
	ActRun = "run"
	// ActExpect leaves the expectation for the next boot on the host
	// (atomic-selftest expect): the default deployment's checksum.
	ActExpect = "expect"
	// ActReboot reboots and waits for a new boot id.
	ActReboot = "reboot"
	// ActWaitSelftest waits for the run record of the current boot.
	ActWaitSelftest = "wait-selftest"
	// ActCollect saves the run record, deployment status, journal and
	// console into the artifacts and verifies the booted deployment.
	ActCollect = "collect"
	// ActCheckPending waits for the host's deployment-change run record
	// of the step's last deployment command and judges its
	// deployment.pending (see Step.ExpectPending). A reboot does it
	// first by itself when the step has not.
	ActCheckPending = "check-pending"
	// ActMark writes the carry-over markers before the step's
	// deployment command (issue 26): a file in /etc, a user (useradd),
	// and a file under /var (VarDir) with its own mode and owner. The
	// driver remembers what it wrote and when (the deployments then).
	ActMark = "mark"
	// ActCheckMarks asserts the markers after the step's boot: every
	// /var file any mark wrote keeps its content, mode, owner (and
	// SELinux type where SELinux is on); the /etc file and the user of
	// the step's own mark are there on a deployment made after the mark
	// (upgrade, deploy, layering) or on the one the mark was written on,
	// and gone on a deployment that existed before it (a rollback).
	ActCheckMarks = "check-marks"
)

// Changes say what the default deployment must be after a run action.
const (
	ChangeUpgrade  = "upgrade"  // the upgrade source's commit (or any new one)
	ChangeRollback = "rollback" // the deployment that was the rollback one
	ChangeOlder    = "older"    // the older version ({older_checksum})
	ChangeInstall  = "install"  // a deployment with {package} layered
	// ChangeUninstall is a deployment without the packages the command
	// names (rpm-ostree uninstall).
	ChangeUninstall = "uninstall"
	// ChangeRebase is a deployment whose origin is the refspec the
	// command ends with (rpm-ostree rebase REFSPEC).
	ChangeRebase = "rebase"
)

// Action is one thing done to a host.
type Action struct {
	Do string `toml:"do"`
	// Command is the argv of a run action. Placeholders: {package}, {package2},
	// {older_version}, {older_checksum}, {upgrade_ref}, {upgrade_version},
	// {original_refspec} (the booted origin before the upgrade source
	// pointed it at its own ref), {upgrade_refspec} (that ref's refspec),
	// {ostree_rollback} (an argument of its own: it becomes the argv of
	// the rollback script run by /usr/bin/python3).
	Command []string `toml:"command,omitempty"`
	// Changes is what the run must leave as the default deployment.
	Changes string `toml:"changes,omitempty"`
	// Packages and AbsentPackages go into an expect action's expectation
	// (placeholders allowed).
	Packages       []string `toml:"packages,omitempty"`
	AbsentPackages []string `toml:"absent_packages,omitempty"`
	// DeploymentChange marks a run action without changes that writes
	// the deployment list (or breaks a deployment and touches the
	// watched /sysroot/ostree/deploy): like a run with changes, the
	// host's deployment-change run after it is checked before the
	// reboot.
	DeploymentChange bool `toml:"deployment_change,omitempty"`
	// VarDir is where a mark action keeps its /var file (absolute,
	// under /var; default DefaultVarDir): a directory an admin keeps
	// data in.
	VarDir string `toml:"var_dir,omitempty"`
	// Timeout bounds the action (defaults per kind in Options).
	Timeout duration `toml:"timeout,omitempty"`
}

// Values of a step's expect_pending.
const (
	PendingPass = "pass" // the default: a failing deployment.pending fails the step
	PendingFail = "fail" // the step breaks the pending deployment and the host must catch it
)

// duration reads "90s" or "10m" from TOML.
type duration struct{ time.Duration }

func (d duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("negative duration %s", b)
	}
	d.Duration = v
	return nil
}

// DefaultVarDir is where a mark action keeps its /var file unless the
// action names another directory.
const DefaultVarDir = "/var/lib/atomic-selftest-outer/carry"

// cycle is a built-in step: the carry-over markers, the deployment
// command, the expectation, the reboot, the boot's self-test, its
// collection and the markers' assertion; the host must then show two
// deployments (the booted one and the one it came from), as ostree,
// rpm-ostree and bootc keep them.
func cycle(name, crit string, pre []Action, cmd []string, changes string, expect Action) Step {
	acts := append([]Action{}, pre...)
	acts = append(acts, Action{Do: ActMark}, Action{Do: ActRun, Command: cmd, Changes: changes})
	expect.Do = ActExpect
	acts = append(acts, expect, Action{Do: ActReboot}, Action{Do: ActWaitSelftest}, Action{Do: ActCollect}, Action{Do: ActCheckMarks})
	return Step{Name: name, Criterion: crit, Actions: acts, Deployments: 2}
}

// cleanup is a built-in step without a reboot: the command removes the
// rollback deployment and one must be left.
func cleanup(name string, cmd []string) Step {
	return Step{Name: name, Deployments: 1, Actions: []Action{{Do: ActRun, Command: cmd, DeploymentChange: true}}}
}

func Baseline() Step {
	return Step{Name: "baseline", Actions: []Action{{Do: ActWaitUp}, {Do: ActWaitSelftest}, {Do: ActCollect}}}
}

// Default covers C3-C6 with both the rpm-ostree and the atomic host
// command of each of upgrade, rollback, deploy and install.
func Default() *Plan {
	src := []Action{{Do: ActUpgradeSource}}
	none := Action{}
	pkg := Action{Packages: []string{"{package}"}}
	pkg2 := Action{Packages: []string{"{package}", "{package2}"}}
	unpkg := Action{AbsentPackages: []string{"{package}"}}
	return &Plan{
		Name:       "default",
		Family:     "rpm-ostree",
		Packages:   []string{"htop", "tmux"},
		UpgradeRef: "atomic-selftest/upgrade",
		Steps: []Step{
			Baseline(),
			cycle("rpm-ostree-upgrade", "C3", src, []string{"rpm-ostree", "upgrade"}, ChangeUpgrade, none),
			cycle("rpm-ostree-rollback", "C4", nil, []string{"rpm-ostree", "rollback"}, ChangeRollback, none),
			cycle("atomic-host-upgrade", "C3", src, []string{"atomic", "host", "upgrade"}, ChangeUpgrade, none),
			cycle("atomic-host-rollback", "C4", nil, []string{"atomic", "host", "rollback"}, ChangeRollback, none),
			cycle("rpm-ostree-deploy", "C5", nil, []string{"rpm-ostree", "deploy", "{older_version}"}, ChangeOlder, none),
			cycle("atomic-host-deploy", "C5", nil, []string{"atomic", "host", "deploy", "{older_version}"}, ChangeOlder, none),
			cycle("rpm-ostree-install", "C6", nil, []string{"rpm-ostree", "install", "{package}"}, ChangeInstall, pkg),
			cycle("atomic-host-install", "C6", nil, []string{"atomic", "host", "install", "{package2}"}, ChangeInstall, pkg2),
			cycle("rpm-ostree-uninstall", "C6", nil, []string{"rpm-ostree", "uninstall", "{package}"}, ChangeUninstall, unpkg),
			cycle("rpm-ostree-rebase", "C5", nil, []string{"rpm-ostree", "rebase", "{original_refspec}"}, ChangeRebase, none),
			cycle("rpm-ostree-rebase-back", "C5", nil, []string{"rpm-ostree", "rebase", "{upgrade_refspec}"}, ChangeRebase, none),
			cleanup("rpm-ostree-cleanup", []string{"rpm-ostree", "cleanup", "--rollback"}),
		},
	}
}

// Ostree is the profile for plain OSTree hosts (no rpm-ostree): ostree
// admin upgrade, ostree admin deploy of the older commit, then rollback
// (back to the upgrade) by reordering the deployments with libostree.
// Plain ostree has no package layering: its layering step is reported
// not applicable, with the reason, on a host without rpm-ostree. The
// cleanup undeploys the rollback deployment (index 1 once the rollback
// has booted the default).
func Ostree() *Plan {
	return &Plan{
		Name:       "ostree",
		Family:     "ostree",
		Packages:   Default().Packages,
		UpgradeRef: "atomic-selftest/upgrade",
		Steps: []Step{
			Baseline(),
			cycle("ostree-upgrade", "C3", []Action{{Do: ActUpgradeSource}}, []string{"ostree", "admin", "upgrade"}, ChangeUpgrade, Action{}),
			cycle("ostree-deploy", "C5", nil, []string{"ostree", "admin", "deploy", "{older_checksum}"}, ChangeOlder, Action{}),
			cycle("ostree-rollback", "C4", nil, []string{"{ostree_rollback}"}, ChangeRollback, Action{}),
			layeringRemoval(),
			cleanup("ostree-cleanup", []string{"ostree", "admin", "undeploy", "1"}),
		},
	}
}

// layeringRemoval is the layering step of a plan whose family cannot
// layer (plain ostree): on a host without rpm-ostree it is not
// applicable, with the reason, never passed.
func layeringRemoval() Step {
	s := cycle("layering-removal", "C6", nil, []string{"rpm-ostree", "uninstall", "{package}"}, ChangeUninstall, Action{AbsentPackages: []string{"{package}"}})
	s.Families = []string{"rpm-ostree"}
	return s
}

// RpmOstree is the default plan's rpm-ostree steps, for an rpm-ostree
// host without the atomic CLI (Fedora CoreOS, IoT, Silverblue). With one
// upgrade only, the deploy goes to the tree booted before it (the
// upgrade's parent) and the rollback back to the upgrade, as in the
// ostree plan.
func RpmOstree() *Plan {
	p := Default()
	p.Name = "rpm-ostree"
	byName := map[string]Step{}
	for _, s := range p.Steps {
		byName[s.Name] = s
	}
	p.Steps = nil
	for _, n := range []string{"baseline", "rpm-ostree-upgrade", "rpm-ostree-deploy", "rpm-ostree-rollback", "rpm-ostree-install",
		"rpm-ostree-uninstall", "rpm-ostree-rebase", "rpm-ostree-rebase-back", "rpm-ostree-cleanup"} {
		p.Steps = append(p.Steps, byName[n])
	}
	return p
}

// Auto is the auto profile: a baseline, after whose preflight each
// host gets the plan Fit picks for it.
func Auto() *Plan {
	return &Plan{Name: "auto", Auto: true, Family: "rpm-ostree", UpgradeRef: "atomic-selftest/upgrade", Packages: Default().Packages,
		Steps: []Step{Baseline()}}
}

// Profiles are the built-in plans by name.
var Profiles = map[string]func() *Plan{"auto": Auto, "default": Default, "rpm-ostree": RpmOstree, "ostree": Ostree, "bootc": Bootc}

// ProfileNames are the keys of Profiles in the order help texts list them.
var ProfileNames = []string{"auto", "bootc", "default", "rpm-ostree", "ostree"}

// Fit is the name of the built-in plan for a host whose deployment
// tools has reports, or "" when none fits: a bootc host gets the bootc
// plan (before rpm-ostree, which bootc images also ship), an rpm-ostree
// host the default plan where the atomic CLI exists and the rpm-ostree
// plan (the default without its atomic host steps) where it does not,
// a plain ostree host the ostree plan.
func Fit(has func(tool string) bool) string {
	switch {
	case has("bootc"):
		return "bootc"
	case has("rpm-ostree") && has("atomic"):
		return "default"
	case has("rpm-ostree"):
		return "rpm-ostree"
	case has("ostree"):
		return "ostree"
	}
	return ""
}

// HostFamily is the plan's host family: Family, or rpm-ostree (the
// default) for a plan made in code without Validate.
func (p *Plan) HostFamily() string {
	if p.Family == "" {
		return "rpm-ostree"
	}
	return p.Family
}

// Load reads a plan from a TOML file and validates it.
func Load(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	var p Plan
	md, err := toml.Decode(string(data), &p)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("plan %s: unknown field %s", path, und[0])
	}
	if p.Name == "" {
		p.Name = path
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("plan %s: %w", path, err)
	}
	return &p, nil
}

var (
	stepName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	criterion = regexp.MustCompile(`^C([1-9]|10)$`)
	// Placeholders matches a placeholder in a command or an expectation.
	Placeholders = regexp.MustCompile(`\{[a-z_0-9]+\}`)
)

var knownHolders = map[string]bool{"{package}": true, "{package2}": true, "{older_version}": true, "{older_checksum}": true,
	"{original_refspec}": true, "{upgrade_refspec}": true,
	"{upgrade_ref}": true, "{upgrade_version}": true, "{ostree_rollback}": true}

// Validate checks the plan; errors name the step and the field.
func (p *Plan) Validate() error {
	switch p.Family {
	case "":
		p.Family = "rpm-ostree"
	case "rpm-ostree", "ostree", "bootc":
	default:
		return fmt.Errorf("family %q: want %s", p.Family, strings.Join(Families, ", "))
	}
	if p.UpgradeRef == "" {
		p.UpgradeRef = "atomic-selftest/upgrade"
	}
	if len(p.Steps) == 0 {
		return errors.New("no steps")
	}
	seen := map[string]bool{}
	for i, s := range p.Steps {
		where := fmt.Sprintf("step %d (%s)", i+1, s.Name)
		if !stepName.MatchString(s.Name) {
			return fmt.Errorf("step %d: name %q: want letters, digits, '.', '_' or '-'", i+1, s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("%s: name used twice", where)
		}
		seen[s.Name] = true
		switch s.ExpectPending {
		case "", PendingPass, PendingFail:
		default:
			return fmt.Errorf("%s: expect_pending %q: want pass or fail", where, s.ExpectPending)
		}
		if s.IgnorePending && s.ExpectPending == PendingFail {
			return fmt.Errorf("%s: ignore_pending with expect_pending = \"fail\": a step that must see the host catch a break cannot also go on past it", where)
		}
		if s.Criterion != "" && !criterion.MatchString(s.Criterion) {
			return fmt.Errorf("%s: criterion %q: want C1 to C10", where, s.Criterion)
		}
		if len(s.Actions) == 0 {
			return fmt.Errorf("%s: no actions", where)
		}
		for _, f := range s.Families {
			if !slices.Contains(Families, f) {
				return fmt.Errorf("%s: families: %q: want %s", where, f, strings.Join(Families, ", "))
			}
		}
		if s.Deployments < 0 {
			return fmt.Errorf("%s: deployments %d: want a count (0: not checked)", where, s.Deployments)
		}
		for j, a := range s.Actions {
			aw := fmt.Sprintf("%s: action %d (%s)", where, j+1, a.Do)
			if err := p.validateAction(a); err != nil {
				return fmt.Errorf("%s: %w", aw, err)
			}
		}
	}
	return nil
}

func (p *Plan) validateAction(a Action) error {
	var texts []string
	if a.VarDir != "" && (a.Do != ActMark || !strings.HasPrefix(a.VarDir, "/var/") || strings.Contains(a.VarDir, "/..") || strings.Contains(a.VarDir, "//")) {
		return fmt.Errorf("field var_dir %q: only for mark actions, an absolute directory under /var/", a.VarDir)
	}
	switch a.Do {
	case ActWaitUp, ActUpgradeSource, ActReboot, ActWaitSelftest, ActCollect, ActCheckPending, ActMark, ActCheckMarks:
		if len(a.Command) > 0 || a.Changes != "" || len(a.Packages)+len(a.AbsentPackages) > 0 || a.DeploymentChange {
			return errors.New("field command, changes, packages, deployment_change: only for run and expect actions")
		}
	case ActRun:
		if len(a.Command) == 0 {
			return errors.New("field command: empty")
		}
		switch a.Changes {
		case "", ChangeUpgrade, ChangeRollback, ChangeOlder, ChangeInstall, ChangeUninstall, ChangeRebase:
		default:
			return fmt.Errorf("field changes: %q: want upgrade, rollback, older, install, uninstall or rebase", a.Changes)
		}
		texts = a.Command
	case ActExpect:
		texts = append(append(texts, a.Packages...), a.AbsentPackages...)
	case "":
		return errors.New("field do: missing")
	default:
		return fmt.Errorf("field do: %q: want one of wait-up, upgrade-source, mark, run, expect, check-pending, reboot, wait-selftest, collect, check-marks", a.Do)
	}
	for _, t := range texts {
		for _, h := range Placeholders.FindAllString(t, -1) {
			if !knownHolders[h] {
				return fmt.Errorf("placeholder %s in %q: unknown", h, t)
			}
			if n := map[string]int{"{package}": 1, "{package2}": 2}[h]; n > len(p.Packages) {
				return fmt.Errorf("placeholder %s in %q: the plan names %d package(s) (field packages)", h, t, len(p.Packages))
			}
		}
	}
	return nil
}

// BootcBaseImage is where `bootc image copy-to-storage` puts the booted
// image when given no --target (bootc-dev/bootc crates/lib/src/cli.rs,
// ImageOpts::CopyToStorage: "the default is to push to
// containers-storage:localhost/bootc"); the bootc plan switches back to
// it, and outer/family's bootc upgrade source builds on it.
const BootcBaseImage = "localhost/bootc"

// Bootc is the profile for bootc hosts: `bootc upgrade` to an image the
// driver builds on the host, `bootc switch` to the image booted before
// (the older one), `bootc rollback` back to the upgrade; each judged by
// `bootc status` before and after and by the next boot's self-test. It is
// proved against simulated hosts only, not on a real bootc host.
func Bootc() *Plan {
	return &Plan{
		Name:   "bootc",
		Family: "bootc",
		// Unused by the bootc plan; what Validate would fill in.
		UpgradeRef: "atomic-selftest/upgrade",
		Steps: []Step{
			Baseline(),
			cycle("bootc-upgrade", "C3", []Action{{Do: ActUpgradeSource}}, []string{"bootc", "upgrade"}, ChangeUpgrade, Action{}),
			cycle("bootc-switch", "C5", nil, []string{"bootc", "switch", "--transport", "containers-storage", BootcBaseImage}, ChangeOlder, Action{}),
			cycle("bootc-rollback", "C4", nil, []string{"bootc", "rollback"}, ChangeRollback, Action{}),
		},
		// bootc has no command that removes the rollback deployment,
		// and a bootc host layers nothing client-side: no cleanup or
		// layering step.
	}
}

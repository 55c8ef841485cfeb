// Package selftest is the engine of atomic-selftest: the check registry, the
// runner that executes checks in parallel under their dependencies and
// timeouts, the host access every check uses, and the run record that is
// saved under /var/lib/atomic-selftest and printed in every format.
//
// A check is data plus one function (see Check). Each area package under
// selftest/checks registers its checks in an init function; the package
// selftest/checks/all imports every area.
package selftest

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Criterion is a category a check proves. The release criteria of Fedora
// Atomic Host are C1 to C10; a category of another kind (host health,
// a site's own checks) is one more entry of Criteria with its own id.
type Criterion struct {
	// ID is what a check's Criterion names: "C7", or, say, "H1".
	ID string
	// Text says in one line what the category holds; `list` prints it.
	Text string
}

// Criteria are the categories a check may prove, in the order `list`
// prints its legend: the one place they are kept. The release criteria
// are in the words of the two-week release criteria of Fedora Atomic
// Host; docs/criteria.md says which checks prove each.
var Criteria = []Criterion{
	{"C1", "the installer and the images boot in their supported configurations and the ostree gets written"},
	{"C2", "the images set up the storage pools of the installed container runtime (devicemapper or overlay)"},
	{"C3", "an existing host upgrades to a new tree with atomic host upgrade and rpm-ostree upgrade"},
	{"C4", "an upgraded host rolls back to the previous tree with atomic host rollback and rpm-ostree rollback"},
	{"C5", "an installed or upgraded host deploys an older version with atomic host deploy and rpm-ostree deploy"},
	{"C6", "an installed or upgraded host layers packages with atomic host install and rpm-ostree install"},
	{"C7", "on virtualised images cloud-init injects the user's ssh key, sets the host name and runs user scripts"},
	{"C8", "the container runtime runs containers: docker run and atomic run"},
	{"C9", "the container runtime's service starts properly"},
	{"C10", "system containers are pulled to ostree storage, installed, started with runc and report their status"},
	// Outside the release criteria: what a bad release shows on the host
	// beyond C1-C10, and the checks a site adds without writing Go.
	{"HOST", "the host is healthy beyond the release criteria: no kernel oops or panic, no AVC denial, no unit stuck or restarting in a loop, no watchdog reset"},
	{"SITE", "the site's own checks: executables in check.d (and greenboot's check directories where enabled) pass"},
}

// CriterionText returns what the category id holds, and whether it is one
// of Criteria.
func CriterionText(id string) (string, bool) {
	for _, c := range Criteria {
		if c.ID == id {
			return c.Text, true
		}
	}
	return "", false
}

// DefaultTimeout applies to a check that declares none.
const DefaultTimeout = 60 * time.Second

// Check declares one verification. Everything but Run is metadata that the
// registry validates at start-up.
type Check struct {
	// ID is stable and of the form area.thing, e.g. "runtime.run".
	ID string
	// Criterion is the category proved: a release criterion, "C1" to
	// "C10", or another entry of Criteria.
	Criterion string
	// Required checks decide the run's exit status; wanted ones only report.
	Required bool
	// Description says in one line what is verified (shown by `list`).
	Description string
	// Timeout bounds Run; zero means DefaultTimeout.
	Timeout time.Duration
	// Depends names checks that must pass before this one runs. A dependent
	// of a failed, errored or blocked check is blocked; of a skipped one,
	// skipped.
	Depends []string
	// Offline marks a check that can run against --sysroot DIR (it only
	// reads files under the root). Other checks skip in sysroot mode.
	Offline bool
	// HostState marks an Offline check that judges what an installed
	// system keeps outside a deployment's own tree: /var (cloud-init's
	// status, home directories, system containers), /boot and the
	// sysroot's repository. deployment.pending runs every other Offline
	// check against the pending deployment's checked-out tree before the
	// reboot; there /var and /boot are empty mount points, and what they
	// hold on the host is shared by every deployment, so such a check
	// would say nothing about the pending one.
	HostState bool
	// Applies returns a non-empty skip reason when the check does not apply
	// to this host (no docker, not virtualised, no cloud-init). Nil means it
	// always applies. It must be quick and must not change anything. It
	// gets the run's context: the host and the configuration.
	Applies func(ctx context.Context, rc *RunContext) string
	// Run performs the check and reports through t. Returning without a
	// verdict counts as pass. Run must honour ctx: when the timeout passes
	// the runner reports a failure and stops waiting for it.
	Run func(ctx context.Context, t *T)
}

// T is handed to a check's Run. It carries the run's context (t.Host,
// t.Config, t.History, ...). Its methods are safe to call from goroutines
// the check starts, but not after Run returned.
type T struct {
	*RunContext

	mu       sync.Mutex
	status   record.Status
	message  string
	evidence []record.Evidence
	details  map[string]any
	updates  []func(*record.Record)
	cleanups []func()
}

// verdict takes the finished message so that Pass, Fail, Skip and Error are
// plain printf wrappers that go vet checks at every call site.
func (t *T) verdict(s record.Status, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The first bad verdict wins: a later Pass must not hide a failure.
	if t.status.Bad() && !s.Bad() {
		return
	}
	if t.status.Bad() && s.Bad() {
		return
	}
	t.status = s
	t.message = msg
}

// Pass records success with a message saying what was verified.
func (t *T) Pass(format string, args ...any) {
	t.verdict(record.StatusPass, fmt.Sprintf(format, args...))
}

// Fail records that what the check verifies is false.
func (t *T) Fail(format string, args ...any) {
	t.verdict(record.StatusFail, fmt.Sprintf(format, args...))
}

// Skip records that the check does not apply, with the reason.
func (t *T) Skip(format string, args ...any) {
	t.verdict(record.StatusSkip, fmt.Sprintf(format, args...))
}

// Error records that the check could not decide (the tool or probe broke).
func (t *T) Error(format string, args ...any) {
	t.verdict(record.StatusError, fmt.Sprintf(format, args...))
}

// Conclude gives the one verdict of a check that collected what it found
// wrong (the common ending): with problems, Fail with them joined by
// "; "; without, Pass with the message.
func (t *T) Conclude(problems []string, format string, args ...any) {
	t.ConcludeWith("", problems, format, args...)
}

// ConcludeWith is Conclude whose failure message starts with lead ("bootc
// disagrees with the sysroot: ").
func (t *T) ConcludeWith(lead string, problems []string, format string, args ...any) {
	if len(problems) > 0 {
		t.Fail("%s%s", lead, strings.Join(problems, "; "))
		return
	}
	t.Pass(format, args...)
}

// Failed reports whether a bad verdict has been recorded.
func (t *T) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status.Bad()
}

// Evidence records one comparison. Expected may be empty for a plain
// observation.
func (t *T) Evidence(name, expected, seen string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.evidence = append(t.evidence, record.Evidence{Name: name, Expected: expected, Seen: seen})
}

// Detail records structured data (timings, lists) in the result.
func (t *T) Detail(key string, value any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.details == nil {
		t.details = map[string]any{}
	}
	t.details[key] = value
}

// UpdateRecord queues a change to the run record (the booted deployment, the
// transition); the runner applies it after the check returns, one at a time.
func (t *T) UpdateRecord(f func(*record.Record)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.updates = append(t.updates, f)
}

// Cleanup registers f to run when the check ends, even after a timeout or a
// panic; cleanups run last-in first-out. Use it to remove probes.
func (t *T) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9]*\.[a-z][a-z0-9-]*$`)

// foundPattern is the id rule of a check a Source found at run time: the
// area, then a name made of a file's name, which may start with a digit
// (10-app, as check.d files are ordered) and, for greenboot's scripts,
// carry one more dot (site.greenboot.01-dns-check).
var foundPattern = regexp.MustCompile(`^[a-z][a-z0-9]*\.[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)?$`)

// FoundID reports whether id is a valid id for a check found at run time
// (Source): area.name or area.group.name, names of lower-case letters,
// digits and dashes.
func FoundID(id string) bool { return foundPattern.MatchString(id) }

// Registry holds checks by id. The zero value is empty and ready.
type Registry struct {
	mu      sync.Mutex
	checks  map[string]*Check
	sources []Source
}

// A Source gives the checks a run finds on the host rather than in the
// binary (the site's executables in check.d): it is registered once, from
// an area's init, and asked again for every run with that run's context.
// It must be quick and change nothing; a file it cannot make a check of
// becomes a check that fails naming the file, never a missing one.
type Source struct {
	// Name says where the checks come from, for errors ("site check.d").
	Name string
	// Checks returns the checks found for rc.
	Checks func(rc *RunContext) []*Check
}

// RegisterSource adds s to the Default registry.
func RegisterSource(s Source) { Default.RegisterSource(s) }

// RegisterSource adds a source of checks found at run time; it panics on
// a source without a name or a function, as Register does.
func (r *Registry) RegisterSource(s Source) {
	if s.Name == "" || s.Checks == nil {
		panic("selftest: a check source needs a name and a Checks function")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sources = append(r.sources, s)
}

// ForRun returns a registry holding r's checks and those its sources
// find for rc, each validated as Register validates (with FoundID's id
// rule). A found check that is invalid or whose id is taken is left out
// and named in the returned problems: a file on the host never stops a
// run or loses its record.
func (r *Registry) ForRun(rc *RunContext) (*Registry, []string) {
	r.mu.Lock()
	out := &Registry{checks: make(map[string]*Check, len(r.checks))}
	for id, c := range r.checks {
		out.checks[id] = c
	}
	sources := append([]Source(nil), r.sources...)
	r.mu.Unlock()
	var problems []string
	for _, s := range sources {
		for _, c := range s.Checks(rc) {
			if err := validateFound(c); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", s.Name, err))
				continue
			}
			if _, dup := out.checks[c.ID]; dup {
				problems = append(problems, fmt.Sprintf("%s: check %q is already registered", s.Name, c.ID))
				continue
			}
			out.checks[c.ID] = c
		}
	}
	return out, problems
}

func validateFound(c *Check) error {
	if c == nil {
		return fmt.Errorf("nil check")
	}
	if !FoundID(c.ID) {
		return fmt.Errorf("check id %q is not of the form area.name (lower-case letters, digits, dashes)", c.ID)
	}
	// The same rules but the id's: a copy with a registered-style id.
	cc := *c
	cc.ID = "found.check"
	cc.Depends = nil
	if err := validate(&cc); err != nil {
		return fmt.Errorf("check %q%s", c.ID, strings.TrimPrefix(err.Error(), `check "found.check"`))
	}
	for _, d := range c.Depends {
		if d == c.ID {
			return fmt.Errorf("check %q depends on itself", c.ID)
		}
	}
	return nil
}

// Default is the registry area packages register into.
var Default = &Registry{}

// Register adds c to the Default registry; it panics on a broken
// declaration so mistakes die at start-up.
func Register(c *Check) { Default.Register(c) }

// Register validates c and adds it. It panics on an invalid id, an unknown
// criterion, a missing Run or a duplicate id.
func (r *Registry) Register(c *Check) {
	if err := validate(c); err != nil {
		panic("selftest: " + err.Error())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checks == nil {
		r.checks = map[string]*Check{}
	}
	if _, dup := r.checks[c.ID]; dup {
		panic(fmt.Sprintf("selftest: check %q registered twice", c.ID))
	}
	r.checks[c.ID] = c
}

func validate(c *Check) error {
	if c == nil {
		return fmt.Errorf("nil check")
	}
	if !idPattern.MatchString(c.ID) {
		return fmt.Errorf("check id %q is not of the form area.thing", c.ID)
	}
	if _, ok := CriterionText(c.Criterion); !ok {
		return fmt.Errorf("check %q: criterion %q is not one of selftest.Criteria", c.ID, c.Criterion)
	}
	if c.Run == nil {
		return fmt.Errorf("check %q has no Run function", c.ID)
	}
	if c.Description == "" {
		return fmt.Errorf("check %q has no description", c.ID)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("check %q has a negative timeout", c.ID)
	}
	if c.HostState && !c.Offline {
		return fmt.Errorf("check %q: HostState is only for an Offline check", c.ID)
	}
	for _, d := range c.Depends {
		if d == c.ID {
			return fmt.Errorf("check %q depends on itself", c.ID)
		}
	}
	return nil
}

// All returns every registered check sorted by id. It panics if a check
// depends on an unknown id or the dependencies form a cycle: both are
// programming errors.
func (r *Registry) All() []*Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Check, 0, len(r.checks))
	for _, c := range r.checks {
		for _, d := range c.Depends {
			if _, ok := r.checks[d]; !ok {
				panic(fmt.Sprintf("selftest: check %q depends on unknown check %q", c.ID, d))
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if cyc := findCycle(out); cyc != "" {
		panic("selftest: dependency cycle: " + cyc)
	}
	return out
}

// Select returns the checks named in ids plus everything they depend on,
// sorted by id. An unknown id is an error naming it.
func (r *Registry) Select(ids []string) ([]*Check, error) {
	all := r.All()
	if len(ids) == 0 {
		return all, nil
	}
	byID := make(map[string]*Check, len(all))
	for _, c := range all {
		byID[c.ID] = c
	}
	want := map[string]bool{}
	var add func(id string) error
	add = func(id string) error {
		c, ok := byID[id]
		if !ok {
			return fmt.Errorf("unknown check %q (see `atomic-selftest list`)", id)
		}
		if want[id] {
			return nil
		}
		want[id] = true
		for _, d := range c.Depends {
			if err := add(d); err != nil {
				return err
			}
		}
		return nil
	}
	for _, id := range ids {
		if err := add(strings.TrimSpace(id)); err != nil {
			return nil, err
		}
	}
	var out []*Check
	for _, c := range all {
		if want[c.ID] {
			out = append(out, c)
		}
	}
	return out, nil
}

func findCycle(checks []*Check) string {
	byID := map[string]*Check{}
	for _, c := range checks {
		byID[c.ID] = c
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var path []string
	var visit func(id string) string
	visit = func(id string) string {
		color[id] = grey
		path = append(path, id)
		for _, d := range byID[id].Depends {
			switch color[d] {
			case grey:
				return strings.Join(append(path, d), " -> ")
			case white:
				if s := visit(d); s != "" {
					return s
				}
			}
		}
		path = path[:len(path)-1]
		color[id] = black
		return ""
	}
	for _, c := range checks {
		if color[c.ID] == white {
			if s := visit(c.ID); s != "" {
				return s
			}
		}
	}
	return ""
}

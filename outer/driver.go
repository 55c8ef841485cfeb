package outer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// Options bound and place one run of the driver.
type Options struct {
	Plan *Plan
	// ArtifactsDir receives <host>/<NN-step>/ with the run record, the
	// deployment status before and after, the journal and the console.
	ArtifactsDir string
	// Parallel bounds how many hosts run at once (default 8).
	Parallel int
	// RebootTimeout bounds a reboot (and wait-up) until the host answers
	// with a new boot id (default 10m).
	RebootTimeout time.Duration
	// SelftestTimeout bounds the wait for the self-test's run record of a
	// boot (default 15m).
	SelftestTimeout time.Duration
	// CommandTimeout bounds a deployment command (default 30m: an upgrade
	// downloads a tree).
	CommandTimeout time.Duration
	// Poll is the backoff while waiting for reboots and self-tests.
	Poll Backoff
	// ResultsDir is where the host keeps run records
	// (default /var/lib/atomic-selftest).
	ResultsDir string
	// Selftest is the host binary (default atomic-selftest, on the host's
	// PATH).
	Selftest string
	// Repo is the host's ostree repository (default /ostree/repo).
	Repo string
	// OnEvent, if set, hears progress; it is called from the hosts'
	// goroutines and must be safe for that.
	OnEvent func(Event)
}

func (o *Options) defaults() {
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.RebootTimeout <= 0 {
		o.RebootTimeout = 10 * time.Minute
	}
	if o.SelftestTimeout <= 0 {
		o.SelftestTimeout = 15 * time.Minute
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 30 * time.Minute
	}
	if o.ResultsDir == "" {
		o.ResultsDir = "/var/lib/atomic-selftest"
	}
	if o.Selftest == "" {
		o.Selftest = "atomic-selftest"
	}
	if o.Repo == "" {
		o.Repo = "/ostree/repo"
	}
	if o.Poll.Min <= 0 {
		o.Poll.Min = 500 * time.Millisecond
	}
	if o.Poll.Max <= 0 {
		o.Poll.Max = 10 * time.Second
	}
}

// Event is one line of progress.
type Event struct {
	Host, Step, Action string
	// Status is "start", or a step's final status.
	Status  string
	Message string
	Elapsed time.Duration
}

// Step statuses in reports.
const (
	StepPass        = "pass"
	StepFail        = "fail"
	StepError       = "error"       // the driver could not do the step (host unreachable)
	StepNotRun      = "not-run"     // an earlier step left the host unusable
	StepInterrupted = "interrupted" // the driver was stopped
)

// Report is one run of the driver over all hosts.
type Report struct {
	Plan        string        `json:"plan"`
	Start       time.Time     `json:"start"`
	End         time.Time     `json:"end"`
	Interrupted bool          `json:"interrupted,omitempty"`
	OK          bool          `json:"ok"`
	Summary     Summary       `json:"summary"`
	Hosts       []*HostReport `json:"hosts"`
}

// Summary counts hosts and steps by outcome.
type Summary struct {
	Hosts   int            `json:"hosts"`
	HostsOK int            `json:"hosts_ok"`
	Steps   map[string]int `json:"steps"` // by status
}

// HostReport is one host's steps.
type HostReport struct {
	Host  string        `json:"host"`
	OK    bool          `json:"ok"`
	Steps []*StepReport `json:"steps"`
}

// StepReport is one step on one host.
type StepReport struct {
	Name        string    `json:"name"`
	Criterion   string    `json:"criterion,omitempty"`
	Status      string    `json:"status"`
	Message     string    `json:"message,omitempty"`
	Start       time.Time `json:"start"`
	DurationSec float64   `json:"duration_s"`
	// BootID is the boot the step ended on.
	BootID   string              `json:"boot_id,omitempty"`
	Before   *HostDeployment     `json:"booted_before,omitempty"`
	After    *HostDeployment     `json:"booted_after,omitempty"`
	Expected *record.Expectation `json:"expected,omitempty"`
	// Record is the host's run record of the step's boot.
	Record    *record.Record `json:"record,omitempty"`
	Actions   []ActionReport `json:"actions"`
	Artifacts string         `json:"artifacts,omitempty"`
	// Tail is the last lines of the console or journal when the step
	// failed, for the person reading the report.
	Tail []string `json:"tail,omitempty"`
}

// ActionReport is one action of a step.
type ActionReport struct {
	Do          string  `json:"do"`
	Status      string  `json:"status"`
	Message     string  `json:"message,omitempty"`
	DurationSec float64 `json:"duration_s"`
}

// Run drives every machine through the plan, at most opts.Parallel at a
// time, each independently. It always returns a report of what ran, also
// when ctx was cancelled.
func Run(ctx context.Context, machines []Machine, opts Options) *Report {
	opts.defaults()
	rep := &Report{Plan: opts.Plan.Name, Start: time.Now().UTC(), Hosts: make([]*HostReport, len(machines))}
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	dirs := map[string]int{}
	for i, m := range machines {
		// Names that differ only in characters a file name cannot hold
		// still get a directory each.
		dir := safeName(m.Name())
		if dirs[dir]++; dirs[dir] > 1 {
			dir = fmt.Sprintf("%s.%d", dir, dirs[dir])
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
			}
			h := &hostRun{m: m, opts: &opts, dir: filepath.Join(opts.ArtifactsDir, dir)}
			rep.Hosts[i] = h.steps(ctx)
		}()
	}
	wg.Wait()
	rep.End = time.Now().UTC()
	rep.Interrupted = ctx.Err() != nil
	rep.OK = !rep.Interrupted && len(rep.Hosts) > 0
	rep.Summary = Summary{Hosts: len(rep.Hosts), Steps: map[string]int{}}
	for _, h := range rep.Hosts {
		rep.OK = rep.OK && h.OK
		if h.OK {
			rep.Summary.HostsOK++
		}
		for _, s := range h.Steps {
			rep.Summary.Steps[s.Status]++
		}
	}
	return rep
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string {
	s = unsafeChars.ReplaceAllString(s, "_")
	if s == "" || s == "." || s == ".." {
		s = "_"
	}
	return s
}

// hostRun is the state of one host while its plan runs.
type hostRun struct {
	m    Machine
	opts *Options
	dir  string

	bootID    string
	record    *record.Record // the run record of bootID, once read
	expected  *record.Expectation
	upgrade   *LogEntry // the upgrade source's last commit
	older     *LogEntry // resolved lazily for {older_*}
	unusable  error     // set when the host cannot be reached any more
	stepIndex int
}

func (h *hostRun) emit(step, action, status, msg string, start time.Time) {
	if h.opts.OnEvent != nil {
		h.opts.OnEvent(Event{Host: h.m.Name(), Step: step, Action: action, Status: status, Message: msg, Elapsed: time.Since(start)})
	}
}

func (h *hostRun) steps(ctx context.Context) *HostReport {
	hr := &HostReport{Host: h.m.Name(), OK: true}
	for i, s := range h.opts.Plan.Steps {
		h.stepIndex = i + 1
		sr := h.step(ctx, s)
		hr.Steps = append(hr.Steps, sr)
		if sr.Status != StepPass {
			hr.OK = false
		}
	}
	return hr
}

func (h *hostRun) step(ctx context.Context, s Step) *StepReport {
	sr := &StepReport{Name: s.Name, Criterion: s.Criterion, Start: time.Now().UTC()}
	start := time.Now()
	defer func() { sr.DurationSec = time.Since(start).Seconds() }()
	switch {
	case ctx.Err() != nil:
		sr.Status, sr.Message = StepInterrupted, "not started: the driver was interrupted"
		return sr
	case h.unusable != nil:
		sr.Status, sr.Message = StepNotRun, "not run: "+h.unusable.Error()
		return sr
	}
	h.emit(s.Name, "", "start", "", start)
	sr.Artifacts = filepath.Join(h.dir, fmt.Sprintf("%02d-%s", h.stepIndex, safeName(s.Name)))
	if err := os.MkdirAll(sr.Artifacts, 0o700); err != nil {
		sr.Status, sr.Message = StepError, fmt.Sprintf("artifacts: %v", err)
		return sr
	}
	// The deployment status before: a host that is not up yet (the
	// baseline's wait-up) has none.
	if h.bootID != "" {
		if st, raw, err := h.status(ctx); err == nil {
			sr.Before = st.Booted()
			h.save(sr, "status-before.txt", raw)
		}
	}
	h.expected = nil
	sr.Status = StepPass
	for _, a := range s.Actions {
		astart := time.Now()
		h.emit(s.Name, a.Do, "start", "", start)
		msg, err := h.do(ctx, a, sr)
		ar := ActionReport{Do: a.Do, Status: StepPass, Message: msg, DurationSec: time.Since(astart).Seconds()}
		if err != nil {
			ar.Status, ar.Message = h.classify(ctx, err), err.Error()
			sr.Status, sr.Message = ar.Status, fmt.Sprintf("%s: %v", a.Do, err)
		}
		sr.Actions = append(sr.Actions, ar)
		if err != nil {
			break
		}
	}
	if sr.Status != StepPass && sr.Status != StepInterrupted {
		sr.Tail = h.tail(ctx)
		h.save(sr, "tail.txt", []byte(strings.Join(sr.Tail, "\n")+"\n"))
	}
	sr.BootID = h.bootID
	sr.DurationSec = time.Since(start).Seconds()
	// The step's own record is written last, whole, so an interrupted run
	// never leaves a half-recorded step behind.
	if data, err := json.MarshalIndent(sr, "", "  "); err == nil {
		h.save(sr, "step.json", append(data, '\n'))
	}
	h.emit(s.Name, "", sr.Status, sr.Message, start)
	return sr
}

// classify turns an action's error into a step status, and marks the host
// unusable when it can no longer be reached.
func (h *hostRun) classify(ctx context.Context, err error) string {
	var hk *HostKeyError
	switch {
	case ctx.Err() != nil:
		return StepInterrupted
	case errors.As(err, &hk), errors.Is(err, ErrUnreachable), errors.Is(err, ErrConnection):
		h.unusable = err
		return StepError
	}
	return StepFail
}

// tail is the last lines of the console, or else of the journal, for a
// failed step.
func (h *hostRun) tail(ctx context.Context) []string {
	if lines := h.m.Console(20); len(lines) > 0 {
		return lines
	}
	if h.unusable != nil || ctx.Err() != nil {
		return nil
	}
	res, err := h.m.Run(ctx, 30*time.Second, "journalctl", "--no-pager", "-n", "20", "-o", "short-iso")
	if err != nil || res.ExitCode != 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(res.Stdout), "\n"), "\n")
}

func (h *hostRun) save(sr *StepReport, name string, data []byte) {
	if sr.Artifacts == "" {
		return
	}
	// Atomic: a reader (or an interrupted driver) sees the old file or
	// the whole new one.
	store.WriteFile(sr.Artifacts, name, data)
}

func (h *hostRun) do(ctx context.Context, a Action, sr *StepReport) (string, error) {
	switch a.Do {
	case ActWaitUp:
		id, err := WaitUp(ctx, h.m, "", orDefault(a.Timeout.Duration, h.opts.RebootTimeout), h.opts.Poll)
		if err != nil {
			return "", err
		}
		h.bootID = id
		return "boot " + id, nil
	case ActUpgradeSource:
		return h.upgradeSource(ctx)
	case ActRun:
		return h.runCommand(ctx, a)
	case ActExpect:
		return h.expect(ctx, a, sr)
	case ActReboot:
		id, err := RebootAndWait(ctx, h.m, h.bootID, orDefault(a.Timeout.Duration, h.opts.RebootTimeout), h.opts.Poll)
		if err != nil {
			return "", err
		}
		old := h.bootID
		h.bootID, h.record = id, nil
		return fmt.Sprintf("boot %s -> %s", short(old), short(id)), nil
	case ActWaitSelftest:
		rec, err := h.waitSelftest(ctx, orDefault(a.Timeout.Duration, h.opts.SelftestTimeout))
		if err != nil {
			return "", err
		}
		h.record = rec
		return fmt.Sprintf("run record %s: %d checks, ok=%v", rec.ID, rec.Summary.Total, rec.Summary.OK), nil
	case ActCollect:
		return h.collect(ctx, sr)
	}
	return "", fmt.Errorf("unknown action %q", a.Do)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// run runs argv on the host and turns a non-zero exit into an error that
// quotes the command's last words.
func (h *hostRun) run(ctx context.Context, timeout time.Duration, argv ...string) ([]byte, error) {
	res, err := h.m.Run(ctx, timeout, argv...)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		msg := lastLine(res.Stderr)
		if msg == "" {
			msg = lastLine(res.Stdout)
		}
		return nil, fmt.Errorf("`%s` exited %d: %s", displayArgv(argv), res.ExitCode, msg)
	}
	return res.Stdout, nil
}

func displayArgv(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if len(a) > 40 {
			a = a[:37] + "..."
		}
		out[i] = a
	}
	s, _ := QuoteArgv(out)
	return s
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// status reads the host's deployments with the plan's family's command.
func (h *hostRun) status(ctx context.Context) (*Status, []byte, error) {
	if h.opts.Plan.Family == "ostree" {
		out, err := h.run(ctx, time.Minute, "ostree", "admin", "status")
		if err != nil {
			return nil, nil, err
		}
		st, err := ParseOstreeAdminStatus(out)
		return st, out, err
	}
	out, err := h.run(ctx, time.Minute, "rpm-ostree", "status", "--json")
	if err != nil {
		return nil, nil, err
	}
	st, err := ParseRpmOstreeStatus(out)
	return st, out, err
}

func (h *hostRun) booted(ctx context.Context) (*Status, *HostDeployment, error) {
	st, _, err := h.status(ctx)
	if err != nil {
		return nil, nil, err
	}
	b := st.Booted()
	if b == nil {
		return nil, nil, errors.New("the host's status shows no booted deployment")
	}
	return st, b, nil
}

var selftestSuffix = regexp.MustCompile(`\.selftest\.[0-9]+$`)

// upgradeSource commits the booted tree plus a marker file as a new
// commit on the upgrade ref, whose parent is the ref's previous head (or
// the booted commit), so the ref's history holds every version the plan
// made; then it points the booted deployment's origin at the ref.
func (h *hostRun) upgradeSource(ctx context.Context) (string, error) {
	_, b, err := h.booted(ctx)
	if err != nil {
		return "", err
	}
	ref := h.opts.Plan.UpgradeRef
	base := b.Checksum
	if b.BaseChecksum != "" {
		base = b.BaseChecksum // a layered deployment: commit from its base
	}
	parent := base
	history := 0
	if out, err := h.run(ctx, time.Minute, "ostree", "log", "--repo="+h.opts.Repo, ref); err == nil {
		log := ParseOstreeLog(out)
		if len(log) > 0 {
			parent = log[0].Checksum
		}
		for _, e := range log {
			if selftestSuffix.MatchString(e.Version) {
				history++
			}
		}
	}
	baseVersion := selftestSuffix.ReplaceAllString(b.Version, "")
	if baseVersion == "" {
		baseVersion = "0"
	}
	version := fmt.Sprintf("%s.selftest.%d", baseVersion, history+1)
	out, err := h.run(ctx, time.Minute, "mktemp", "-d", "/var/tmp/atomic-selftest-outer.XXXXXX")
	if err != nil {
		return "", err
	}
	tmp := strings.TrimSpace(string(out))
	if !strings.HasPrefix(tmp, "/var/tmp/atomic-selftest-outer.") {
		return "", fmt.Errorf("mktemp returned %q", tmp)
	}
	defer h.m.Run(context.WithoutCancel(ctx), time.Minute, "rm", "-rf", "--", tmp)
	markerDir := tmp + "/usr/share/atomic-selftest"
	if _, err := h.run(ctx, time.Minute, "mkdir", "-p", markerDir); err != nil {
		return "", err
	}
	marker := fmt.Sprintf("upgrade source made by atomic-selftest-outer\nversion=%s\nfrom=%s\n", version, base)
	if err := h.m.WriteFile(ctx, markerDir+"/upgrade-marker", []byte(marker), 0o644); err != nil {
		return "", err
	}
	out, err = h.run(ctx, 10*time.Minute, commitArgv(h.opts.Repo, ref, parent, base, tmp, version)...)
	if err != nil {
		return "", err
	}
	commit := strings.TrimSpace(string(out))
	if !isHex(commit) || len(commit) != 64 {
		return "", fmt.Errorf("ostree commit printed %q, not a checksum", commit)
	}
	h.upgrade = &LogEntry{Checksum: commit, Parent: parent, Version: version}
	if err := h.pointOrigin(ctx, b, ref); err != nil {
		return "", err
	}
	return fmt.Sprintf("committed %s (%s) on %s", short(commit), version, ref), nil
}

// commitArgv is the ostree commit of the upgrade source: the tree of base
// with dir laid over it (ostree commit's --tree layers apply in order),
// parent as the history's previous commit, and a version label that
// rpm-ostree deploy and atomic host deploy find.
func commitArgv(repo, ref, parent, base, dir, version string) []string {
	return []string{"ostree", "commit", "--repo=" + repo, "--branch=" + ref,
		"--parent=" + parent, "--tree=ref=" + base, "--tree=dir=" + dir,
		"--add-metadata-string=version=" + version, "--subject=atomic-selftest upgrade source " + version}
}

// pointOrigin rewrites the booted deployment's origin file (a GKeyFile,
// ostree's deployment origin) so that its refspec is ref.
func (h *hostRun) pointOrigin(ctx context.Context, b *HostDeployment, ref string) error {
	if b.Refspec == ref {
		return nil
	}
	path := fmt.Sprintf("/ostree/deploy/%s/deploy/%s.%d.origin", b.OSName, b.Checksum, b.Serial)
	data, err := h.m.ReadFile(ctx, path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(data), "\n")
	found := false
	for i, l := range lines {
		k, _, ok := strings.Cut(l, "=")
		if k = strings.TrimSpace(k); ok && (k == "refspec" || k == "baserefspec") {
			lines[i] = k + "=" + ref
			found = true
		}
	}
	if !found {
		return fmt.Errorf("origin %s has no refspec", path)
	}
	if err := h.m.WriteFile(ctx, path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		return err
	}
	if h.opts.Plan.Family == "rpm-ostree" {
		// rpm-ostreed caches the sysroot; reload makes it read the origin.
		if _, err := h.run(ctx, time.Minute, "rpm-ostree", "reload"); err != nil {
			return err
		}
	}
	return nil
}

// olderCommit finds the commit deploy steps go to: the newest one in the
// upgrade ref's (or else the booted refspec's) history that is neither its
// head nor booted.
func (h *hostRun) olderCommit(ctx context.Context) (*LogEntry, error) {
	if h.older != nil {
		return h.older, nil
	}
	_, b, err := h.booted(ctx)
	if err != nil {
		return nil, err
	}
	var log []LogEntry
	refs := []string{h.opts.Plan.UpgradeRef}
	if b.Refspec != "" && b.Refspec != refs[0] {
		refs = append(refs, b.Refspec)
	}
	var tried []string
	for _, ref := range refs {
		out, err := h.run(ctx, time.Minute, "ostree", "log", "--repo="+h.opts.Repo, ref)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		if log = ParseOstreeLog(out); len(log) > 0 {
			break
		}
	}
	for i := 1; i < len(log); i++ {
		e := log[i]
		if e.Checksum != b.Checksum && e.Checksum != b.BaseChecksum {
			h.older = &e
			return h.older, nil
		}
	}
	return nil, fmt.Errorf("no older version to deploy: the history of %s has %d commit(s) besides the head and the booted %s %s",
		strings.Join(refs, " or "), max(len(log)-1, 0), b.Short(), strings.Join(tried, "; "))
}

// expand fills the placeholders of one argument.
func (h *hostRun) expand(ctx context.Context, s string) (string, error) {
	if !strings.Contains(s, "{") {
		return s, nil
	}
	var err error
	out := holder.ReplaceAllStringFunc(s, func(m string) string {
		switch m {
		case "{package}", "{package2}":
			n := 0
			if m == "{package2}" {
				n = 1
			}
			if n < len(h.opts.Plan.Packages) {
				return h.opts.Plan.Packages[n]
			}
		case "{upgrade_ref}":
			return h.opts.Plan.UpgradeRef
		case "{upgrade_version}":
			if h.upgrade != nil {
				return h.upgrade.Version
			}
			err = errors.New("{upgrade_version}: no upgrade-source action ran before")
		case "{older_version}", "{older_checksum}":
			o, oerr := h.olderCommit(ctx)
			if oerr != nil {
				err = oerr
				return m
			}
			if m == "{older_checksum}" {
				return o.Checksum
			}
			if o.Version == "" {
				err = fmt.Errorf("the older commit %s has no version label", short(o.Checksum))
			}
			return o.Version
		}
		return m
	})
	return out, err
}

func (h *hostRun) expandAll(ctx context.Context, in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s == "{ostree_rollback}" {
			out = append(out, RollbackArgv()...)
			continue
		}
		v, err := h.expand(ctx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// runCommand runs a deployment command and checks that it left the
// deployment the plan asked for as the default.
func (h *hostRun) runCommand(ctx context.Context, a Action) (string, error) {
	argv, err := h.expandAll(ctx, a.Command)
	if err != nil {
		return "", err
	}
	var before *Status
	if a.Changes != "" {
		if before, _, err = h.status(ctx); err != nil {
			return "", err
		}
	}
	shown := displayArgv(argv)
	if _, err := h.run(ctx, orDefault(a.Timeout.Duration, h.opts.CommandTimeout), argv...); err != nil {
		return "", err
	}
	if a.Changes == "" {
		return "ran " + shown, nil
	}
	after, _, err := h.status(ctx)
	if err != nil {
		return "", err
	}
	def, booted := after.Default(), before.Booted()
	if def == nil {
		return "", fmt.Errorf("after `%s` the host shows no deployments", shown)
	}
	if booted != nil && def.Checksum == booted.Checksum && def.Serial == booted.Serial && def.OSName == booted.OSName {
		return "", fmt.Errorf("after `%s` the default deployment is still the booted %s: nothing to boot into", shown, def.Short())
	}
	switch a.Changes {
	case ChangeUpgrade:
		if h.upgrade != nil && def.Checksum != h.upgrade.Checksum && def.BaseChecksum != h.upgrade.Checksum {
			return "", fmt.Errorf("after `%s` the default deployment is %s, expected the upgrade source's commit %s(%s)",
				shown, def.Short(), short(h.upgrade.Checksum), h.upgrade.Version)
		}
	case ChangeRollback:
		want := before.Rollback()
		if want == nil {
			return "", fmt.Errorf("`%s`: there was no rollback deployment to go to", shown)
		}
		if def.Checksum != want.Checksum {
			return "", fmt.Errorf("after `%s` the default deployment is %s, expected the rollback deployment %s", shown, def.Short(), want.Short())
		}
	case ChangeOlder:
		o, err := h.olderCommit(ctx)
		if err != nil {
			return "", err
		}
		if def.Checksum != o.Checksum && def.BaseChecksum != o.Checksum {
			return "", fmt.Errorf("after `%s` the default deployment is %s, expected the older commit %s(%s)", shown, def.Short(), short(o.Checksum), o.Version)
		}
	case ChangeInstall:
		for _, p := range h.opts.Plan.Packages {
			if slices.Contains(argv[1:], p) && !def.HasPackage(p) {
				return "", fmt.Errorf("after `%s` the default deployment %s does not layer %s (it layers %v)", shown, def.Short(), p, def.Packages)
			}
		}
	}
	h.older = nil // a deploy changes what "older" means
	return fmt.Sprintf("ran %s; next boot: %s", shown, def.Short()), nil
}

// expect leaves the expectation for the next boot on the host with
// `atomic-selftest expect`: the default deployment's checksum plus the
// packages the action names.
func (h *hostRun) expect(ctx context.Context, a Action, sr *StepReport) (string, error) {
	st, _, err := h.status(ctx)
	if err != nil {
		return "", err
	}
	def := st.Default()
	if def == nil {
		return "", errors.New("the host shows no deployments")
	}
	pk, err := h.expandAll(ctx, a.Packages)
	if err != nil {
		return "", err
	}
	absent, err := h.expandAll(ctx, a.AbsentPackages)
	if err != nil {
		return "", err
	}
	argv := []string{h.opts.Selftest, "expect", "--checksum", def.Checksum}
	for _, p := range pk {
		argv = append(argv, "--package", p)
	}
	for _, p := range absent {
		argv = append(argv, "--absent-package", p)
	}
	if _, err := h.run(ctx, time.Minute, argv...); err != nil {
		return "", err
	}
	h.expected = &record.Expectation{Checksum: def.Checksum, Version: def.Version, Packages: pk, AbsentPackages: absent,
		Created: time.Now().UTC(), CreatedBootID: h.bootID}
	sr.Expected = h.expected
	return "next boot must be " + def.Short(), nil
}

// waitSelftest waits for the run record of the current boot written by
// atomic-selftest.service, reading each candidate file once.
func (h *hostRun) waitSelftest(ctx context.Context, bound time.Duration) (*record.Record, error) {
	if h.bootID == "" {
		id, err := h.m.BootID(ctx)
		if err != nil {
			return nil, err
		}
		h.bootID = id
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	seen := map[string]bool{}
	var delay time.Duration
	pattern := "run-*-" + short(h.bootID) + ".json"
	for {
		out, err := h.run(ctx, time.Minute, "find", h.opts.ResultsDir, "-maxdepth", "1", "-name", pattern)
		if err != nil {
			if errors.Is(err, ErrConnection) || ctx.Err() != nil {
				return nil, h.waitErr(ctx, err, bound)
			}
			// The results directory may not exist before the first run.
		}
		names := strings.Fields(string(out))
		sort.Sort(sort.Reverse(sort.StringSlice(names))) // newest first: names begin with the time
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			data, err := h.m.ReadFile(ctx, n)
			if err != nil {
				return nil, h.waitErr(ctx, err, bound)
			}
			rec, err := store.DecodeRecord(data)
			if err != nil {
				return nil, fmt.Errorf("run record %s: %w", n, err)
			}
			if rec.BootID == h.bootID && rec.Trigger == record.TriggerBoot {
				return rec, nil
			}
		}
		if res, err := h.m.Run(ctx, time.Minute, "systemctl", "show", "-p", "ActiveState", "--value", "atomic-selftest.service"); err == nil &&
			strings.TrimSpace(string(res.Stdout)) == "failed" && len(names) == 0 {
			return nil, fmt.Errorf("atomic-selftest.service failed on boot %s without writing a run record (see the journal)", short(h.bootID))
		}
		delay = h.opts.Poll.next(delay)
		if err := sleep(ctx, delay); err != nil {
			return nil, h.waitErr(ctx, err, bound)
		}
	}
}

func (h *hostRun) waitErr(ctx context.Context, err error, bound time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no run record of boot %s from atomic-selftest.service within %s", short(h.bootID), bound)
	}
	return err
}

// collect saves the step's evidence and judges it: the booted deployment
// must be the expected one and the self-test of the boot must be OK.
func (h *hostRun) collect(ctx context.Context, sr *StepReport) (string, error) {
	if h.record == nil {
		rec, err := h.waitSelftest(ctx, h.opts.SelftestTimeout)
		if err != nil {
			return "", err
		}
		h.record = rec
	}
	sr.Record = h.record
	if data, err := json.MarshalIndent(h.record, "", "  "); err == nil {
		h.save(sr, "record.json", append(data, '\n'))
	}
	st, raw, err := h.status(ctx)
	if err != nil {
		return "", err
	}
	h.save(sr, "status-after.txt", raw)
	sr.After = st.Booted()
	if res, err := h.m.Run(ctx, 2*time.Minute, "journalctl", "-b", "--no-pager", "-o", "short-iso-precise", "-n", "20000"); err == nil {
		h.save(sr, "journal.txt", res.Stdout)
	}
	if lines := h.m.Console(2000); len(lines) > 0 {
		h.save(sr, "console.txt", []byte(strings.Join(lines, "\n")+"\n"))
	}
	if sr.After == nil {
		return "", errors.New("the host's status shows no booted deployment")
	}
	if e := h.expected; e != nil {
		if e.Checksum != "" && sr.After.Checksum != e.Checksum {
			want := short(e.Checksum)
			if e.Version != "" {
				want += "(" + e.Version + ")"
			}
			return "", fmt.Errorf("booted %s, expected %s", sr.After.Short(), want)
		}
		for _, p := range e.Packages {
			if !sr.After.HasPackage(p) {
				return "", fmt.Errorf("booted %s does not layer %s", sr.After.Short(), p)
			}
		}
	}
	if !h.record.Summary.OK {
		return "", fmt.Errorf("the self-test of boot %s failed: required checks %s", short(h.bootID), strings.Join(badChecks(h.record), "; "))
	}
	return fmt.Sprintf("booted %s; self-test ok (%d passed, %d skipped)", sr.After.Short(), h.record.Summary.Passed, h.record.Summary.Skipped), nil
}

// badChecks names the required checks that did not pass, with their
// messages.
func badChecks(rec *record.Record) []string {
	var out []string
	for _, c := range rec.Checks {
		if c.Required && c.Status.Bad() {
			s := c.ID + " " + string(c.Status)
			if c.Message != "" {
				s += " (" + c.Message + ")"
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = rec.Summary.RequiredBad
	}
	return out
}

package outer

// Carry-over across deployment changes (issue 26): the markers a mark
// action leaves on the host before a step's deployment command, their
// assertion after the step's boot (check-marks), the deployment count a
// step must leave, and the cross-host machine-id assertion. Everything is
// read through commands every family's hosts have (coreutils stat,
// shadow's useradd, getent) and the family's own status command: the
// driver asserts what it reads, it never runs the host's checks.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/family"
	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/report"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// The markers' shape. The /var file's mode and owner are ones no tool
// would give it by itself (a numeric owner without a user), so a tree
// that recreates the file cannot pass for one that kept it.
const (
	carryEtcDir   = "/etc/atomic-selftest-outer"
	carryVarMode  = "640"
	carryVarOwner = "4242:4242"
	// carryUserPrefix begins the marker users' names (useradd's
	// NAME_REGEX: lowercase, at most 32 characters).
	carryUserPrefix = "asto"
	markTimeout     = 2 * time.Minute
)

// carryMark is what one mark action wrote, and on which deployments.
type carryMark struct {
	step             string
	etcPath, etcData string
	user             string
	varPath, varData string
	// label is the /var file's SELinux type; noLabel says why there is
	// none (SELinux off: the file has no security context).
	label, noLabel string
	// booted is the deployment the mark was written on; existing the
	// deployments there were then (a deployment made later merged /etc
	// after the mark, so it has the /etc file and the user).
	booted   *record.Deployment
	existing []family.Entry
}

// mark writes the step's carry-over markers: a file in /etc, a user and
// a file under the action's /var directory with mode 0640 and owner
// 4242:4242.
func (h *hostRun) mark(ctx context.Context, s plan.Step, a plan.Action) (string, error) {
	st, booted, err := h.bootedNow(ctx)
	if err != nil {
		return "", err
	}
	token := randomToken()
	id := fmt.Sprintf("%02d-%s", h.stepIndex, safeName(s.Name))
	dir := a.VarDir
	if dir == "" {
		dir = plan.DefaultVarDir
	}
	m := &carryMark{step: s.Name, booted: booted, existing: st.Deployments,
		etcPath: carryEtcDir + "/carry-" + id + ".conf", etcData: fmt.Sprintf("# atomic-selftest-outer carry-over marker\nstep=%s\ntoken=%s\n", s.Name, token),
		user:    carryUserPrefix + token[:10],
		varPath: path.Join(dir, "carry-"+id), varData: fmt.Sprintf("atomic-selftest-outer carry-over marker of step %s: %s\n", s.Name, token)}
	mkdirs := [][]string{{"mkdir", "-p", carryEtcDir, dir}}
	if dir == plan.DefaultVarDir {
		// The driver's own directory, which also holds its source
		// repository (family.SourceRepo), is its alone.
		mkdirs = slices.Insert(mkdirs, 0, []string{"mkdir", "-p", "-m", "0700", path.Dir(plan.DefaultVarDir)})
	}
	for _, argv := range mkdirs {
		if _, err := h.run(ctx, markTimeout, argv...); err != nil {
			return "", err
		}
	}
	if err := h.m.WriteFile(ctx, m.etcPath, []byte(m.etcData), 0o644); err != nil {
		return "", err
	}
	if err := h.m.WriteFile(ctx, m.varPath, []byte(m.varData), 0o600); err != nil {
		return "", err
	}
	for _, argv := range [][]string{
		{"chmod", carryVarMode, m.varPath},
		{"chown", carryVarOwner, m.varPath},
		// A system user: no home directory, no login.
		{"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--comment", "atomic-selftest-outer carry-over marker", m.user},
	} {
		if _, err := h.run(ctx, markTimeout, argv...); err != nil {
			return "", err
		}
	}
	if m.label, m.noLabel, err = h.selinuxType(ctx, m.varPath); err != nil {
		return "", err
	}
	h.marks = append(h.marks, m)
	return fmt.Sprintf("marked on %s: %s, user %s, %s (%s %s)", family.Describe(booted), m.etcPath, m.user, m.varPath, carryVarMode, carryVarOwner), nil
}

// bootedNow reads the host's deployments and the booted one.
func (h *hostRun) bootedNow(ctx context.Context) (*family.Status, *record.Deployment, error) {
	st, _, err := h.fam.Status(ctx)
	if err != nil {
		return nil, nil, err
	}
	if st.Booted() == nil {
		return nil, nil, fmt.Errorf("the host's status shows no booted deployment")
	}
	return st, st.Booted(), nil
}

// selinuxType is the type field of a file's SELinux context
// (user:role:type:level), or why it has none: where SELinux is off, GNU
// stat's %C fails ("failed to get security context ...: No data
// available"). Whether selinuxfs is mounted says nothing: Debian's kernel
// mounts it with no policy loaded, and its files have no context.
func (h *hostRun) selinuxType(ctx context.Context, p string) (typ, none string, err error) {
	res, err := h.m.Run(ctx, markTimeout, "stat", "-c", "%C", p)
	if err != nil {
		return "", "", err
	}
	out := strings.TrimSpace(string(res.Stdout))
	if res.ExitCode != 0 || out == "?" {
		// The reason without the file's name, so that it reads the same
		// for every file: "...: No data available".
		why, _, _ := strings.Cut(strings.TrimSpace(string(res.Stderr)), "\n")
		if i := strings.LastIndex(why, ": "); i >= 0 {
			why = why[i+2:]
		}
		return "", fmt.Sprintf("no SELinux context on the host's files (stat -c %%C: exit %d, %s)", res.ExitCode, why), nil
	}
	f := strings.Split(out, ":")
	if len(f) < 3 {
		return "", "", fmt.Errorf("stat -c %%C %s: %q is not an SELinux context", p, out)
	}
	return f[2], "", nil
}

// checkMarks asserts the markers after the step: the /var files of every
// mark, the /etc file and the user of the step's own mark. A failing
// assertion fails the step with its evidence.
func (h *hostRun) checkMarks(ctx context.Context, s plan.Step, sr *report.StepReport) (string, error) {
	_, booted, err := h.bootedNow(ctx)
	if err != nil {
		return "", err
	}
	// The step's own marks, taken before checkVar forgets those whose
	// /var file is lost: their /etc file and user are judged all the same.
	var own []*carryMark
	for _, m := range h.marks {
		if m.step == s.Name {
			own = append(own, m)
		}
	}
	var as []report.Assertion
	as = append(as, h.checkVar(ctx, s)...)
	for _, m := range own {
		as = append(as, h.checkEtc(ctx, m, booted)...)
	}
	sr.Assertions = append(sr.Assertions, as...)
	var bad, lines []string
	for _, a := range as {
		lines = append(lines, a.Name+" "+a.Status)
		if a.Status == report.AssertFail {
			bad = append(bad, a.String())
		}
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return "on " + family.Describe(booted) + ": " + strings.Join(lines, ", "), nil
}

// checkVar asserts every /var file the host's marks wrote: there, with
// its content, mode, owner and (SELinux on) type. A lost file is
// forgotten once reported, so that one loss fails one step. With the
// step's expect_var_lost, the step's own file must be lost.
func (h *hostRun) checkVar(ctx context.Context, s plan.Step) []report.Assertion {
	var kept, lost, changed, caught []string
	var seenLost []string
	ownLost := false
	var keep []*carryMark
	// carry.selinux: compared where a file had a context when marked,
	// else not applicable, with why (of every mark, the lost ones too).
	se := report.Assertion{Name: "carry.selinux", Status: report.AssertNA}
	labelled := false
	for _, m := range h.marks {
		switch {
		case m.label != "":
			labelled = true
			se.Message = "the /var files' SELinux types are compared in carry.var (" + m.label + ")"
		case !labelled && se.Message == "":
			se.Message = "SELinux is off on this host: " + m.noLabel
		}
	}
	for _, m := range h.marks {
		res, err := h.m.Run(ctx, markTimeout, "stat", "-c", "%a %u:%g", m.varPath)
		if err != nil {
			changed = append(changed, fmt.Sprintf("%s: stat: %v", m.varPath, err))
			keep = append(keep, m)
			continue
		}
		if res.ExitCode != 0 {
			why := strings.TrimSpace(string(res.Stderr))
			if s.ExpectVarLost {
				caught = append(caught, m.varPath)
				ownLost = ownLost || m.step == s.Name
			} else {
				lost = append(lost, fmt.Sprintf("%s (marked before step %s)", m.varPath, m.step))
			}
			seenLost = append(seenLost, why)
			continue
		}
		keep = append(keep, m)
		var diffs []string
		if got := strings.TrimSpace(string(res.Stdout)); got != carryVarMode+" "+carryVarOwner {
			diffs = append(diffs, fmt.Sprintf("mode and owner %s, want %s %s", got, carryVarMode, carryVarOwner))
		}
		if data, err := h.m.ReadFile(ctx, m.varPath, int64(len(m.varData))+1); err != nil {
			diffs = append(diffs, fmt.Sprintf("reading it: %v", err))
		} else if !bytes.Equal(data, []byte(m.varData)) {
			diffs = append(diffs, fmt.Sprintf("content sha256 %s, want %s", shaHex(data), shaHex([]byte(m.varData))))
		}
		if m.label != "" {
			if t, none, err := h.selinuxType(ctx, m.varPath); err != nil || t != m.label {
				diffs = append(diffs, fmt.Sprintf("SELinux type %q (%s%v), want %s", t, none, err, m.label))
			}
		}
		if len(diffs) > 0 {
			changed = append(changed, m.varPath+": "+strings.Join(diffs, ", "))
			continue
		}
		kept = append(kept, m.varPath)
	}
	h.marks = keep
	if len(h.marks)+len(caught)+len(lost) == 0 && len(changed) == 0 {
		return nil
	}
	a := report.Assertion{Name: "carry.var", Status: report.AssertPass,
		Message: fmt.Sprintf("%d /var file(s) kept content, mode %s and owner %s", len(kept), carryVarMode, carryVarOwner)}
	switch {
	case len(lost) > 0:
		a.Status, a.Message = report.AssertFail, "lost "+strings.Join(lost, ", ")
		a.Expected, a.Seen = "the files the marks wrote, unchanged", strings.Join(seenLost, "; ")
	case len(changed) > 0:
		a.Status, a.Message = report.AssertFail, "changed "+strings.Join(changed, "; ")
		a.Expected, a.Seen = fmt.Sprintf("the content written, %s %s", carryVarMode, carryVarOwner), strings.Join(changed, "; ")
	case s.ExpectVarLost && !ownLost:
		a.Status, a.Message = report.AssertFail, "the step's deployment was to remove the step's /var file (expect_var_lost), but it is still there"
		a.Expected, a.Seen = "the step's /var file lost", "kept: "+strings.Join(kept, ", ")
	case len(caught) > 0:
		a.Message = fmt.Sprintf("caught: the step's deployment removed %s (expect_var_lost); %s", strings.Join(caught, ", "), a.Message)
		a.Expected, a.Seen = "lost (expect_var_lost)", strings.Join(seenLost, "; ")
	}
	if labelled {
		se.Status = a.Status
	}
	return []report.Assertion{a, se}
}

// checkEtc asserts the /etc file and the user of mark m on the booted
// deployment: there on the deployment the mark was written on and on one
// made after it (its /etc merged from a deployment that had them), gone
// on one that existed before it (a rollback).
func (h *hostRun) checkEtc(ctx context.Context, m *carryMark, booted *record.Deployment) []report.Assertion {
	want, why := true, "a deployment made after the mark"
	switch {
	case sameDeployment(booted, m.booted):
		why = "the deployment the mark was written on"
	case slices.ContainsFunc(m.existing, func(e family.Entry) bool { return sameDeployment(&e.Deployment, booted) }):
		want, why = false, "a deployment that existed before the mark, whose /etc the mark never reached"
	}
	on := family.Describe(booted)
	verdict := func(name, what string, present bool, seen string) report.Assertion {
		a := report.Assertion{Name: name, Status: report.AssertPass}
		state := map[bool]string{true: "present", false: "gone"}
		a.Message = fmt.Sprintf("%s %s on %s, %s", what, state[present], on, why)
		if present != want {
			a.Status, a.Expected, a.Seen = report.AssertFail, state[want], seen
		}
		return a
	}
	var out []report.Assertion
	data, err := h.m.ReadFile(ctx, m.etcPath, int64(len(m.etcData))+1)
	present := err == nil && string(data) == m.etcData
	seen := "the file as written"
	switch {
	case err != nil:
		seen = err.Error()
	case !present:
		seen = fmt.Sprintf("content sha256 %s, written %s", shaHex(data), shaHex([]byte(m.etcData)))
	}
	out = append(out, verdict("carry.etc", m.etcPath, present, seen))
	res, err := h.m.Run(ctx, markTimeout, "getent", "passwd", m.user)
	switch {
	case err != nil:
		out = append(out, report.Assertion{Name: "carry.user", Status: report.AssertFail, Message: "getent passwd " + m.user + ": " + err.Error()})
	default:
		// getent exits 2 for a key it does not find.
		seen := strings.TrimSpace(string(res.Stdout))
		if res.ExitCode != 0 {
			seen = fmt.Sprintf("getent passwd %s exited %d", m.user, res.ExitCode)
		}
		out = append(out, verdict("carry.user", "user "+m.user, res.ExitCode == 0, seen))
	}
	return out
}

// checkDeployments asserts the number of deployments the step must
// leave.
func (h *hostRun) checkDeployments(ctx context.Context, s plan.Step, sr *report.StepReport) error {
	st, _, err := h.fam.Status(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, d := range st.Deployments {
		names = append(names, family.Describe(&d.Deployment))
	}
	a := report.Assertion{Name: "deployments", Status: report.AssertPass,
		Message: fmt.Sprintf("%d deployment(s): %s", len(st.Deployments), strings.Join(names, ", "))}
	if len(st.Deployments) != s.Deployments {
		a.Status, a.Expected, a.Seen = report.AssertFail, fmt.Sprint(s.Deployments), fmt.Sprint(len(st.Deployments))
	}
	sr.Assertions = append(sr.Assertions, a)
	if a.Status == report.AssertFail {
		return fmt.Errorf("%s", a.String())
	}
	return nil
}

// CrossHost is the assertions across the hosts of one or more runs of
// the driver (what Run puts in Report.CrossHost): machine-id.unique.
func CrossHost(hosts []*report.HostReport) []report.Assertion { return machineIDs(hosts) }

// machineIDs is the cross-host assertion of a run of two or more hosts:
// no two share a machine-id (hosts booted from one image must each get
// their own on first boot).
func machineIDs(hosts []*report.HostReport) []report.Assertion {
	if len(hosts) < 2 {
		return nil
	}
	by := map[string][]string{}
	var missing []string
	for _, h := range hosts {
		if h == nil {
			continue
		}
		if h.MachineID == "" {
			missing = append(missing, h.Host)
			continue
		}
		by[h.MachineID] = append(by[h.MachineID], h.Host)
	}
	a := report.Assertion{Name: "machine-id.unique", Status: report.AssertPass,
		Message: fmt.Sprintf("%d host(s), %d distinct machine-ids", len(hosts)-len(missing), len(by))}
	var dups []string
	for id, hs := range by {
		if len(hs) > 1 {
			slices.Sort(hs)
			dups = append(dups, fmt.Sprintf("%s share %s", strings.Join(hs, ", "), id))
		}
	}
	slices.Sort(dups)
	switch {
	case len(dups) > 0:
		a.Status, a.Message = report.AssertFail, strings.Join(dups, "; ")
		a.Expected, a.Seen = "a machine-id of its own on every host", strings.Join(dups, "; ")
	case len(by) < 2:
		a.Status, a.Message = report.AssertNA, fmt.Sprintf("fewer than two hosts told their machine-id (none from %s)", strings.Join(missing, ", "))
	case len(missing) > 0:
		a.Message += fmt.Sprintf("; not read on %s", strings.Join(missing, ", "))
	}
	return []report.Assertion{a}
}

// readMachineID is the host's /etc/machine-id, or "" when it cannot be
// read (the assertion then says which hosts did not tell).
func (h *hostRun) readMachineID(ctx context.Context) string {
	b, err := h.m.ReadFile(ctx, "/etc/machine-id", 256)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:16]
}

func randomToken() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on Linux; a clock-based token is as
		// unique for a marker.
		return fmt.Sprintf("%016x", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

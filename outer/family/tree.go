package family

// The families of ostree trees (ostree, rpm-ostree): the upgrade source is
// a commit the driver makes on the host, the older version a commit of
// the upgrade ref's history.

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/plan"
	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

var selftestSuffix = regexp.MustCompile(`\.selftest\.[0-9]+$`)

// SourceRepo is the driver's release server on the host: an ostree
// repository under /var whose `core.parent` is the host's repository.
// Commits go here, never into /sysroot/ostree/repo, because a host that
// mounts /sysroot read-only (sysroot.readonly, as Fedora CoreOS does)
// refuses a plain `ostree commit` there; only `ostree admin` and
// rpm-ostree make /sysroot writable, in their own mount namespace. With
// the parent, a commit that lays a marker over the booted tree stores
// only its new objects (a handful), refs and history resolve through the
// parent (ostree src/libostree/ostree-repo.c reads core.parent and
// falls back to the parent for objects and refs), and `ostree admin
// upgrade` pulls just those objects from file://SourceRepo.
const SourceRepo = "/var/lib/atomic-selftest-outer/repo"

// sourceRepoArgv makes the source repository src (ostree init is
// idempotent but makes no parent directories) and points its parent at
// the host's repository.
func sourceRepoArgv(src, hostRepo string) [][]string {
	return [][]string{
		{"mkdir", "-p", "-m", "0700", path.Dir(src)},
		{"ostree", "init", "--repo=" + src, "--mode=bare-user"},
		{"ostree", "config", "--repo=" + src, "set", "core.parent", hostRepo},
	}
}

// tree is the ostree and rpm-ostree families: they differ in the status
// command and in what rpm-ostreed needs after the origin changes. The
// bootc family embeds it for its placeholders.
type tree struct {
	Config
	name       string
	statusArgv []string
	parse      func([]byte) (*Status, error)
	// reloadArgv runs after the driver points the booted origin at the
	// upgrade ref (none for plain ostree).
	reloadArgv []string

	upgrade *LogEntry // the upgrade source's last commit
	older   *LogEntry // found lazily for {older_*}
	// original is the booted refspec the first upgrade source found,
	// before it pointed the origin at its own ref: where a rebase to
	// another ref goes ({original_refspec}).
	original string
}

func (t *tree) Name() string { return t.name }

// run runs argv on the host; a non-zero exit is an error.
func (t *tree) run(ctx context.Context, timeout time.Duration, argv ...string) ([]byte, error) {
	return transport.Output(ctx, t.Machine, timeout, argv...)
}

func (t *tree) Tool() string { return t.statusArgv[0] }

func (t *tree) Status(ctx context.Context) (*Status, []byte, error) {
	out, err := t.run(ctx, time.Minute, t.statusArgv...)
	if err != nil {
		return nil, nil, err
	}
	st, err := t.parse(out)
	return st, out, err
}

// booted is the booted deployment from the family's status.
func (t *tree) booted(ctx context.Context) (*Status, *record.Deployment, error) {
	st, _, err := t.Status(ctx)
	if err != nil {
		return nil, nil, err
	}
	b := st.Booted()
	if b == nil {
		return nil, nil, errors.New("the host's status shows no booted deployment")
	}
	return st, b, nil
}

func (t *tree) Deployed() { t.older = nil }

func (t *tree) Placeholder(ctx context.Context, name string) (string, bool, error) {
	switch name {
	case "{upgrade_version}":
		if t.upgrade == nil {
			return "", true, errors.New("{upgrade_version}: no upgrade-source action ran before")
		}
		return t.upgrade.Version, true, nil
	case "{original_refspec}":
		if t.original == "" {
			return "", true, errors.New("{original_refspec}: no upgrade-source action ran before (it finds the booted refspec)")
		}
		return t.original, true, nil
	case "{upgrade_refspec}":
		return UpgradeRemote + ":" + t.UpgradeRef, true, nil
	case "{older_version}", "{older_checksum}":
		o, err := t.olderCommit(ctx)
		if err != nil {
			return "", true, err
		}
		if name == "{older_checksum}" {
			return o.Checksum, true, nil
		}
		if o.Version == "" {
			return "", true, fmt.Errorf("the older commit %s has no version label", record.Short(o.Checksum))
		}
		return o.Version, true, nil
	}
	return "", false, nil
}

// Verify: after an upgrade the default deployment is the upgrade
// source's commit (or a layered deployment on it); after a deploy of
// the older version, that commit.
func (t *tree) Verify(ctx context.Context, change string, def *record.Deployment) error {
	switch change {
	case plan.ChangeUpgrade:
		if t.upgrade != nil && def.Checksum != t.upgrade.Checksum && def.BaseChecksum != t.upgrade.Checksum {
			return fmt.Errorf("the default deployment is %s, expected the upgrade source's commit %s (%s)",
				Describe(def), record.Short(t.upgrade.Checksum), t.upgrade.Version)
		}
	case plan.ChangeOlder:
		o, err := t.olderCommit(ctx)
		if err != nil {
			return err
		}
		if def.Checksum != o.Checksum && def.BaseChecksum != o.Checksum {
			return fmt.Errorf("the default deployment is %s, expected the older commit %s (%s)", Describe(def), record.Short(o.Checksum), o.Version)
		}
	}
	return nil
}

// historyRepo is where the upgrade ref's history is read: SourceRepo once
// this run made an upgrade source there (its refs and those of the host's
// repository resolve through it), else the host's repository.
func (t *tree) historyRepo() string {
	if t.upgrade != nil {
		return SourceRepo
	}
	return t.Repo
}

// UpgradeSource commits the booted tree plus a marker file as a new
// commit on the upgrade ref in SourceRepo, whose parent is the ref's
// previous head (or the booted commit), so the ref's history holds every
// version the plan made; then it points the booted deployment's origin at
// the ref.
func (t *tree) UpgradeSource(ctx context.Context) (string, error) {
	_, b, err := t.booted(ctx)
	if err != nil {
		return "", err
	}
	for _, argv := range sourceRepoArgv(SourceRepo, t.Repo) {
		if _, err := t.run(ctx, time.Minute, argv...); err != nil {
			return "", err
		}
	}
	ref := t.UpgradeRef
	base := b.Checksum
	if b.BaseChecksum != "" {
		base = b.BaseChecksum // a layered deployment: commit from its base
	}
	parent := base
	history := 0
	if out, err := t.run(ctx, time.Minute, "ostree", "log", "--repo="+SourceRepo, ref); err == nil {
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
	out, err := t.run(ctx, time.Minute, "mktemp", "-d", "/var/tmp/atomic-selftest-outer.XXXXXX")
	if err != nil {
		return "", err
	}
	tmp := strings.TrimSpace(string(out))
	if !strings.HasPrefix(tmp, "/var/tmp/atomic-selftest-outer.") {
		return "", fmt.Errorf("mktemp returned %q", tmp)
	}
	defer t.Machine.Run(context.WithoutCancel(ctx), time.Minute, "rm", "-rf", "--", tmp)
	u := upgradeCommit{Repo: SourceRepo, Ref: ref, Parent: parent, Base: base, Version: version,
		Marker: []byte(fmt.Sprintf("upgrade source made by atomic-selftest-outer\nversion=%s\nfrom=%s\n", version, base))}
	run := func(argv ...string) ([]byte, error) { return t.run(ctx, 10*time.Minute, argv...) }
	write := func(p string, data []byte) error { return t.Machine.WriteFile(ctx, p, data, 0o644) }
	commit, err := u.commit(run, write, tmp)
	if err != nil {
		return "", err
	}
	t.upgrade = &LogEntry{Checksum: commit, Parent: parent, Version: version}
	if t.original == "" && b.Refspec != UpgradeRemote+":"+ref && b.Refspec != ref {
		t.original = b.Refspec
	}
	if err := t.pointOrigin(ctx, b, ref); err != nil {
		return "", err
	}
	return fmt.Sprintf("committed %s (%s) on %s", record.Short(commit), version, ref), nil
}

// UpgradeRemote is the remote the upgrade source is pulled through:
// SourceRepo by its file URL.
const UpgradeRemote = "atomic-selftest"

// pointOrigin points the booted deployment at ref with ostree's own
// command, `ostree admin set-origin --set=gpg-verify=false REMOTE URL
// BRANCH` (ostree src/ostree/ot-admin-builtin-set-origin.c: it adds the
// remote if missing and writes the origin file with
// ostree_sysroot_write_origin_file). Like every `ostree admin` command it
// makes /sysroot writable in its own mount namespace, so a host that
// mounts /sysroot read-only (as ostree-prepare-root does with
// sysroot.readonly) takes it; a write of the origin file by the driver
// would fail there. The refspec becomes REMOTE:ref, which ostree admin
// upgrade and rpm-ostree upgrade pull from SourceRepo.
// set-origin writes a fresh origin with only the refspec, which would
// drop an rpm-ostree layered deployment's packages; such a deployment
// keeps the older way, the origin file rewritten in place.
func (t *tree) pointOrigin(ctx context.Context, b *record.Deployment, ref string) error {
	if b.Refspec == ref || b.Refspec == UpgradeRemote+":"+ref {
		return nil
	}
	if b.BaseChecksum == "" || b.BaseChecksum == b.Checksum {
		if _, err := t.run(ctx, time.Minute, "ostree", "admin", "set-origin", "--set=gpg-verify=false", UpgradeRemote, "file://"+SourceRepo, ref); err != nil {
			return err
		}
		return t.reloadOrigin(ctx)
	}
	path := fmt.Sprintf("/ostree/deploy/%s/deploy/%s.%d.origin", b.OSName, b.Checksum, b.Serial)
	data, err := t.Machine.ReadFile(ctx, path, transport.Limits.File)
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
	if err := t.Machine.WriteFile(ctx, path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		return err
	}
	return t.reloadOrigin(ctx)
}

func (t *tree) reloadOrigin(ctx context.Context) error {
	if t.reloadArgv == nil {
		return nil
	}
	_, err := t.run(ctx, time.Minute, t.reloadArgv...)
	return err
}

// olderCommit finds the commit deploy steps go to: the newest one in the
// upgrade ref's (or else the booted refspec's) history that is neither its
// head nor booted.
func (t *tree) olderCommit(ctx context.Context) (*LogEntry, error) {
	if t.older != nil {
		return t.older, nil
	}
	_, b, err := t.booted(ctx)
	if err != nil {
		return nil, err
	}
	var log []LogEntry
	refs := []string{t.UpgradeRef}
	if b.Refspec != "" && b.Refspec != refs[0] {
		refs = append(refs, b.Refspec)
	}
	var tried []string
	for _, ref := range refs {
		out, err := t.run(ctx, time.Minute, "ostree", "log", "--repo="+t.historyRepo(), ref)
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
			t.older = &e
			return t.older, nil
		}
	}
	return nil, fmt.Errorf("no older version to deploy: the history of %s has %d commit(s) besides the head and the booted %s %s",
		strings.Join(refs, " or "), max(len(log)-1, 0), Describe(b), strings.Join(tried, "; "))
}

package outer

// The upgrade source and the older commit deploy steps go to.

import (
	"context"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

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

// historyRepo is where the upgrade ref's history is read: SourceRepo once
// this run made an upgrade source there (its refs and those of the host's
// repository resolve through it), else the host's repository.
func (h *hostRun) historyRepo() string {
	if h.upgrade != nil {
		return SourceRepo
	}
	return h.opts.Repo
}

// upgradeSource commits the booted tree plus a marker file as a new
// commit on the upgrade ref in SourceRepo, whose parent is the ref's
// previous head (or the booted commit), so the ref's history holds every
// version the plan made; then it points the booted deployment's origin at
// the ref.
func (h *hostRun) upgradeSource(ctx context.Context) (string, error) {
	_, b, err := h.booted(ctx)
	if err != nil {
		return "", err
	}
	for _, argv := range sourceRepoArgv(SourceRepo, h.opts.Repo) {
		if _, err := h.run(ctx, time.Minute, argv...); err != nil {
			return "", err
		}
	}
	ref := h.plan.UpgradeRef
	base := b.Checksum
	if b.BaseChecksum != "" {
		base = b.BaseChecksum // a layered deployment: commit from its base
	}
	parent := base
	history := 0
	if out, err := h.run(ctx, time.Minute, "ostree", "log", "--repo="+SourceRepo, ref); err == nil {
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
	out, err = h.run(ctx, 10*time.Minute, commitArgv(SourceRepo, ref, parent, base, tmp, version)...)
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
	return fmt.Sprintf("committed %s (%s) on %s", record.Short(commit), version, ref), nil
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
func (h *hostRun) pointOrigin(ctx context.Context, b *record.Deployment, ref string) error {
	if b.Refspec == ref || b.Refspec == UpgradeRemote+":"+ref {
		return nil
	}
	if b.BaseChecksum == "" || b.BaseChecksum == b.Checksum {
		if _, err := h.run(ctx, time.Minute, "ostree", "admin", "set-origin", "--set=gpg-verify=false", UpgradeRemote, "file://"+SourceRepo, ref); err != nil {
			return err
		}
		return h.reloadOrigin(ctx)
	}
	path := fmt.Sprintf("/ostree/deploy/%s/deploy/%s.%d.origin", b.OSName, b.Checksum, b.Serial)
	data, err := h.m.ReadFile(ctx, path, transport.Limits.File)
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
	return h.reloadOrigin(ctx)
}

func (h *hostRun) reloadOrigin(ctx context.Context) error {
	if h.plan.Family == "rpm-ostree" {
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
	refs := []string{h.plan.UpgradeRef}
	if b.Refspec != "" && b.Refspec != refs[0] {
		refs = append(refs, b.Refspec)
	}
	var tried []string
	for _, ref := range refs {
		out, err := h.run(ctx, time.Minute, "ostree", "log", "--repo="+h.historyRepo(), ref)
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
		strings.Join(refs, " or "), max(len(log)-1, 0), Describe(b), strings.Join(tried, "; "))
}

package family

// The upgrade source's tree: the base commit with one marker file laid
// over it, and nothing else changed.

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// markerDir is where the marker file goes in the upgrade source's tree.
const markerDir = "/usr/share/atomic-selftest"

// markerParents are the directories of the base tree the marker's layer
// passes through. `ostree commit --tree=ref=BASE --tree=dir=LAYER` takes
// the metadata (mode, owner, xattrs) of every directory the layer holds
// from the layer, not from BASE (ostree src/libostree/ostree-repo-commit.c,
// write_directory_to_mtree_internal sets the mtree's metadata checksum of
// each directory it writes). A layer made with `mktemp -d` has a 0700
// root, and such a commit made `/` 0700 on the upgraded host: every
// unprivileged daemon (systemd-networkd first) failed and the host fell
// off the network. So each of these gets the base's own metadata, and
// the commit is checked against the base before anything deploys it.
var markerParents = []string{"/", "/usr", "/usr/share"}

// dirMeta is one directory's metadata as `ostree ls -d -X` prints it:
// "d00755 0 0      0 { @a(ayay) [] } /usr" (ostree
// src/ostree/ot-builtin-ls.c, print_one_file_text: the mode with its type
// letter, uid, gid, size, the xattrs as a GVariant, then the path).
type dirMeta struct {
	Mode   string // the octal permission bits, e.g. "0755" or "2755"
	UID    string
	GID    string
	Xattrs string // the GVariant text, compared as it is
	line   string // the line as printed, path dropped
}

// parseDirMeta reads one `ostree ls -d -X` line of the directory dir.
func parseDirMeta(out []byte, dir string) (dirMeta, error) {
	line := strings.TrimSpace(string(out))
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	rest, ok := strings.CutSuffix(line, " "+dir)
	f := strings.Fields(rest)
	if !ok || len(f) < 5 || !strings.HasPrefix(f[0], "d") {
		return dirMeta{}, fmt.Errorf("`ostree ls -d -X` of %s printed %q, not a directory's line", dir, line)
	}
	perm, err := strconv.ParseUint(f[0][1:], 8, 32)
	if err != nil || perm > 0o7777 {
		return dirMeta{}, fmt.Errorf("`ostree ls -d -X` of %s printed mode %q", dir, f[0])
	}
	for _, id := range f[1:3] {
		if _, err := strconv.ParseUint(id, 10, 32); err != nil {
			return dirMeta{}, fmt.Errorf("`ostree ls -d -X` of %s printed owner %q", dir, id)
		}
	}
	xattrs := strings.TrimSpace(strings.Join(strings.Fields(rest)[4:], " "))
	return dirMeta{Mode: fmt.Sprintf("%04o", perm), UID: f[1], GID: f[2], Xattrs: xattrs, line: strings.Join(f, " ")}, nil
}

// String is the metadata as a person reads it in a message.
func (m dirMeta) String() string {
	return fmt.Sprintf("mode %s owner %s:%s xattrs %s", m.Mode, m.UID, m.GID, m.Xattrs)
}

// hasSELinux tells whether the base labels its directories: then the
// marker's layer is labelled from the base's own policy (ostree commit
// --selinux-policy-from-base), not from the labels of a directory under
// /var/tmp.
func (m dirMeta) hasSELinux() bool { return strings.Contains(m.Xattrs, "security.selinux") }

// cmdRunner runs one command on the host by argv and returns its standard
// output; a non-zero exit is an error.
type cmdRunner func(argv ...string) ([]byte, error)

// upgradeCommit is what the upgrade source commits: the marker at
// markerDir/upgrade-marker over base, on ref in repo, with parent as the
// history's previous commit.
type upgradeCommit struct {
	Repo, Ref, Parent, Base, Version string
	Marker                           []byte
}

// commit lays the marker over the base tree in the empty directory tmp
// and commits it. Every directory of markerParents keeps the base's mode,
// owner and xattrs (asserted on the new commit; a commit that would
// change one is refused with the directory named), and the new directory
// markerDir is 0755 root. write puts a file on the host.
func (u upgradeCommit) commit(run cmdRunner, write func(path string, data []byte) error, tmp string) (string, error) {
	metas := map[string]dirMeta{}
	for _, dir := range markerParents {
		out, err := run("ostree", "ls", "--repo="+u.Repo, "-d", "-X", u.Base, dir)
		if err != nil {
			if dir == "/" || dir == "/usr" {
				return "", fmt.Errorf("reading %s of the base %s: %w", dir, record.Short(u.Base), err)
			}
			continue // not in the base: the layer makes it, 0755 root
		}
		m, err := parseDirMeta(out, dir)
		if err != nil {
			return "", err
		}
		metas[dir] = m
	}
	if _, err := run("mkdir", "-p", "--", tmp+markerDir); err != nil {
		return "", err
	}
	for _, dir := range append(markerParents, markerDir) {
		m, ok := metas[dir]
		if !ok {
			m = dirMeta{Mode: "0755", UID: "0", GID: "0"}
		}
		p := path.Clean(tmp + dir)
		if _, err := run("chown", m.UID+":"+m.GID, "--", p); err != nil {
			return "", err
		}
		// chmod after chown: chown clears set-id bits.
		if _, err := run("chmod", m.Mode, "--", p); err != nil {
			return "", err
		}
	}
	if err := write(tmp+markerDir+"/upgrade-marker", u.Marker); err != nil {
		return "", err
	}
	out, err := run(commitArgv(u.Repo, u.Ref, u.Parent, u.Base, tmp, u.Version, metas["/"].hasSELinux())...)
	if err != nil {
		return "", err
	}
	commit := strings.TrimSpace(string(out))
	if !isHex(commit) || len(commit) != 64 {
		return "", fmt.Errorf("ostree commit printed %q, not a checksum", commit)
	}
	for _, dir := range markerParents {
		want, ok := metas[dir]
		if !ok {
			continue
		}
		out, err := run("ostree", "ls", "--repo="+u.Repo, "-d", "-X", commit, dir)
		if err != nil {
			return "", err
		}
		got, err := parseDirMeta(out, dir)
		if err != nil {
			return "", err
		}
		if got.line != want.line {
			return "", fmt.Errorf("the upgrade source %s would change %s from %s (base %s) to %s: not deployed",
				record.Short(commit), dir, want, record.Short(u.Base), got)
		}
	}
	return commit, nil
}

// commitArgv is the ostree commit of the upgrade source: the tree of base
// with dir laid over it (ostree commit's --tree layers apply in order),
// parent as the history's previous commit, and a version label that
// rpm-ostree deploy and atomic host deploy find. selinux labels the
// layer from the base's policy.
func commitArgv(repo, ref, parent, base, dir, version string, selinux bool) []string {
	argv := []string{"ostree", "commit", "--repo=" + repo, "--branch=" + ref,
		"--parent=" + parent, "--tree=ref=" + base, "--tree=dir=" + dir,
		"--add-metadata-string=version=" + version, "--subject=atomic-selftest upgrade source " + version}
	if selinux {
		argv = append(argv, "--selinux-policy-from-base")
	}
	return argv
}

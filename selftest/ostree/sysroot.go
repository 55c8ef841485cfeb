// Package ostree is a pure-Go, read-only reader of an OSTree sysroot under
// any root prefix: the deployments in /ostree/deploy/<stateroot>/deploy
// with their .origin key files, the boot order from the Boot Loader
// Specification entries in /boot/loader/entries, the booted, staged,
// pending and rollback deployments decided the way libostree decides them,
// and the commit objects in /ostree/repo. It speaks ostree's on-disk
// formats: BLS entries, GLib key files and the GVariant serialisation.
//
// It never writes and never needs cgo, libostree or rpm-ostree, so the
// self-test can tell what the host runs even when those tools are the
// thing that broke. A missing or garbled part becomes a Problem naming the
// file, never a panic or a failed load.
package ostree

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// DevIno identifies a directory the way libostree compares deployments
// with the running root: by device and inode.
type DevIno struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

func (d DevIno) String() string { return fmt.Sprintf("dev %d ino %d", d.Dev, d.Ino) }

// Options say where the sysroot is and whether it is the running one.
type Options struct {
	// Root is the directory holding the sysroot's boot/ and ostree/: "/"
	// on a booted host (where /ostree links to /sysroot/ostree and /boot
	// is the boot partition), or a physical sysroot or mounted image.
	Root string
	// Live looks for the booted and staged deployments: it reads
	// Root/run/ostree-booted, Root/run/ostree/staged-deployment and
	// Root/proc/cmdline and compares Root's device and inode with each
	// deployment directory. Off for an offline sysroot.
	Live bool
	// StatRoot returns the device and inode of the running root; nil
	// stats Root. Tests inject it.
	StatRoot func() (DevIno, error)
}

// BootLink is the parsed ostree= kernel argument,
// /ostree/boot.B/OSNAME/BOOTCSUM/BOOTSERIAL.
type BootLink struct {
	Path         string `json:"path"`
	BootVersion  int    `json:"bootversion"`
	OSName       string `json:"osname"`
	BootChecksum string `json:"bootcsum"`
	BootSerial   int    `json:"bootserial"`
}

var bootLinkRE = regexp.MustCompile(`^/ostree/boot\.([01])/([^/]+)/([^/]+)/([0-9]+)$`)

// ParseBootLink parses the value of an ostree= kernel argument.
func ParseBootLink(s string) (*BootLink, error) {
	m := bootLinkRE.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("ostree=%q is not /ostree/boot.BOOTVERSION/OSNAME/BOOTCSUM/BOOTSERIAL", s)
	}
	bv, _ := strconv.Atoi(m[1])
	serial, err := strconv.Atoi(m[4])
	if err != nil {
		return nil, fmt.Errorf("ostree=%q: boot serial %q is out of range", s, m[4])
	}
	return &BootLink{Path: s, BootVersion: bv, OSName: m[2], BootChecksum: m[3], BootSerial: serial}, nil
}

// Deployment is one deployment of the sysroot.
type Deployment struct {
	// Index is the position in boot order (staged first), as libostree
	// numbers deployments.
	Index        int
	OSName       string
	Checksum     string
	Serial       int
	BootChecksum string
	BootSerial   int
	// Entry is the BLS entry that boots it; nil for a staged deployment.
	Entry *BootEntry
	// Origin is nil when the .origin file is missing or unreadable (see
	// Problems).
	Origin *Origin
	// Commit is the deployment's commit; BaseCommit its parent when
	// rpm-ostree layered packages on the host, else the same as Commit.
	Commit     *Commit
	BaseCommit *Commit
	Booted     bool
	Staged     bool
	// FinalizationLocked: a staged deployment that will not be finalized
	// at shutdown.
	FinalizationLocked bool
	// Unlocked is none, hotfix, development or transient.
	Unlocked string
	// Dir is the deployment root, with the root prefix.
	Dir    string
	DevIno DevIno
	// Deployed is the directory's ctime: when ostree wrote the deployment
	// (it sets the immutable attribute last).
	Deployed time.Time
	// Problems are parts of this deployment that could not be read.
	Problems []string
}

// Name is checksum.serial, the deployment directory's name.
func (d *Deployment) Name() string { return fmt.Sprintf("%s.%d", d.Checksum, d.Serial) }

// ID is rpm-ostree's deployment id, osname-checksum.serial.
func (d *Deployment) ID() string { return d.OSName + "-" + d.Name() }

// Version is the commit's version metadata.
func (d *Deployment) Version() string { return d.Commit.Version() }

// Refspec is the origin's refspec or base refspec.
func (d *Deployment) Refspec() string { return d.Origin.EffectiveRefspec() }

// ImageReference is the container image a container-image deployment
// follows (its origin's container-image-reference), "" for ref
// deployments.
func (d *Deployment) ImageReference() string {
	if d.Origin == nil {
		return ""
	}
	return d.Origin.ContainerImageReference
}

// ImageDigest is the manifest digest of the image the deployment's base
// commit was imported from, "" when it was not imported from an image.
// For a layered deployment the digest is on the base (parent) commit.
func (d *Deployment) ImageDigest() string {
	if v := d.Commit.ManifestDigest(); v != "" {
		return v
	}
	return d.BaseCommit.ManifestDigest()
}

// Pinned reports [libostree-transient] pinned=true.
func (d *Deployment) Pinned() bool { return d.Origin != nil && d.Origin.Pinned }

// Layered reports whether the commit is an rpm-ostree client layer.
func (d *Deployment) Layered() bool { return d.Commit.ClientLayer() }

// BaseChecksum is the base commit: the parent of a layered commit, else
// the deployment's own checksum.
func (d *Deployment) BaseChecksum() string {
	if d.Layered() && d.Commit.Parent != "" {
		return d.Commit.Parent
	}
	return d.Checksum
}

// Sysroot is what was read.
type Sysroot struct {
	Root string
	// BootVersion is N of the /boot/loader -> loader.N symlink, and
	// SubBootVersion S of /ostree/boot.N -> boot.N.S.
	BootVersion    int
	SubBootVersion int
	// Entries are the BLS entries, sorted the way libostree sorts them:
	// by version, descending, with strverscmp.
	Entries []*BootEntry
	// Deployments in boot order: a staged one first, then by entry.
	Deployments []*Deployment
	Booted      *Deployment
	Staged      *Deployment
	// OstreeBooted: /run/ostree-booted exists (Live only).
	OstreeBooted bool
	// BootedMetadata is /run/ostree-booted's a{sv} (newer ostree writes
	// one; older releases leave the file empty).
	BootedMetadata VarDict
	// RootDevIno is what the running root was compared with.
	RootDevIno DevIno
	// KernelArg is the running kernel's ostree= argument (Live only). It
	// names osname, bootcsum and boot serial only: the path it names can
	// dangle after a cleanup, so it never decides which deployment booted.
	KernelArg *BootLink
	// Stateroots are the directories under /ostree/deploy.
	Stateroots []string
	// BadEntries are BLS entries that do not lead to a deployment.
	BadEntries []EntryProblem
	// Unreferenced are deployment directories no entry boots (and not
	// staged): left over, or written without a bootloader update.
	Unreferenced []string
	// Problems are parts of the sysroot that could not be read.
	Problems []string

	// files reads everything under Root, confined and bounded.
	files rootfs.FS
}

// EntryProblem is a BLS entry that does not lead to a deployment.
type EntryProblem struct {
	Entry *BootEntry
	Err   string
}

// Default is the deployment that boots next: the first in order.
func (s *Sysroot) Default() *Deployment {
	if len(s.Deployments) == 0 {
		return nil
	}
	return s.Deployments[0]
}

// QueryDeploymentsFor returns the pending and rollback deployments of
// osname as ostree_sysroot_query_deployments_for does: pending is the
// first of the stateroot before the booted one in boot order, rollback the
// first after it. With nothing booted, the first is pending.
func (s *Sysroot) QueryDeploymentsFor(osname string) (pending, rollback *Deployment) {
	found := false
	for _, d := range s.Deployments {
		if d.OSName != osname {
			continue
		}
		if s.Booted != nil && d == s.Booted {
			found = true
			continue
		}
		if !found && pending == nil {
			pending = d
		}
		if found && rollback == nil {
			rollback = d
		}
	}
	return pending, rollback
}

// Deployment returns the deployment named checksum.serial in osname.
func (s *Sysroot) Deployment(osname, name string) *Deployment {
	for _, d := range s.Deployments {
		if d.OSName == osname && d.Name() == name {
			return d
		}
	}
	return nil
}

// path is host path p with the root prefix, lexically: for Deployment.Dir
// only, which callers hand to stat of the running system. Every read goes
// through s.files.
func (s *Sysroot) path(p string) string {
	return filepath.Join(s.Root, filepath.Clean("/"+p))
}

func (s *Sysroot) problem(format string, args ...any) {
	s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
}

// ErrNotSysroot is returned when Root has no ostree/deploy directory.
var ErrNotSysroot = errors.New("not an OSTree sysroot")

// Load reads the sysroot. It fails only when Root is not a sysroot at
// all; everything else that is wrong is in Problems, BadEntries or a
// deployment's Problems.
func Load(o Options) (*Sysroot, error) {
	root := o.Root
	if root == "" {
		root = "/"
	}
	s := &Sysroot{Root: root, files: rootfs.FS{Root: root}}
	deployDir := "/ostree/deploy"
	ents, err := s.files.ReadDir(deployDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotSysroot, deployDir, err)
	}
	for _, e := range ents {
		if e.IsDir() {
			s.Stateroots = append(s.Stateroots, e.Name())
		}
	}
	s.readBootVersions()
	s.readEntries()
	if o.Live {
		s.readBooted(o)
	}
	for _, e := range s.Entries {
		d, err := s.deploymentForEntry(e)
		if err != nil {
			s.BadEntries = append(s.BadEntries, EntryProblem{Entry: e, Err: err.Error()})
			continue
		}
		s.Deployments = append(s.Deployments, d)
	}
	if o.Live {
		for _, d := range s.Deployments {
			if s.OstreeBooted && d.DevIno == s.RootDevIno {
				d.Booted = true
				s.Booted = d
				break
			}
		}
		if s.OstreeBooted && s.Booted == nil {
			s.problem("/run/ostree-booted exists but no deployment directory is the running root (%s)", s.RootDevIno)
		}
		if s.Booted != nil {
			s.readStaged()
		}
	}
	for i, d := range s.Deployments {
		d.Index = i
	}
	s.findUnreferenced()
	return s, nil
}

func (s *Sysroot) readBootVersions() {
	target, err := s.files.Readlink("/boot/loader")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// libostree assumes bootversion 0 without the symlink.
	case err != nil:
		s.problem("/boot/loader: %v", err)
	case target == "loader.0":
	case target == "loader.1":
		s.BootVersion = 1
	default:
		s.problem("/boot/loader links to %q, not loader.0 or loader.1", target)
	}
	link := fmt.Sprintf("/ostree/boot.%d", s.BootVersion)
	target, err = s.files.Readlink(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		s.problem("%s: %v", link, err)
	case strings.HasSuffix(target, ".0"):
	case strings.HasSuffix(target, ".1"):
		s.SubBootVersion = 1
	default:
		s.problem("%s links to %q, not boot.%d.0 or boot.%d.1", link, target, s.BootVersion, s.BootVersion)
	}
}

// readEntries reads /boot/loader.N/entries/ostree-*.conf: ostree-<os>-<n>,
// ostree-<n>-<os> and ostree-<n> all occur across releases, so the name
// means nothing; the version field orders them.
func (s *Sysroot) readEntries() {
	dir := fmt.Sprintf("/boot/loader.%d/entries", s.BootVersion)
	ents, err := s.files.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		s.problem("listing %s: %v", dir, err)
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "ostree-") || !strings.HasSuffix(name, ".conf") || !e.Type().IsRegular() {
			continue
		}
		data, err := s.files.ReadFile(path.Join(dir, name), rootfs.BootConfig)
		if err != nil {
			s.problem("%v", err)
			continue
		}
		be, err := ParseBootEntry(path.Join(dir, name), data)
		if err != nil {
			s.problem("%v", err)
			continue
		}
		s.Entries = append(s.Entries, be)
	}
	sort.SliceStable(s.Entries, func(i, j int) bool {
		a, b := s.Entries[i], s.Entries[j]
		switch {
		case a.Version != "" && b.Version != "":
			if c := strverscmp(a.Version, b.Version); c != 0 {
				return c > 0
			}
			return a.File < b.File
		case a.Version != "":
			return true
		case b.Version != "":
			return false
		}
		return a.File < b.File
	})
}

// deploymentForEntry follows the entry's ostree= argument through the
// /ostree/boot.B -> boot.B.S/<os>/<bootcsum>/<serial> symlinks to the
// deployment directory, as libostree does.
func (s *Sysroot) deploymentForEntry(e *BootEntry) (*Deployment, error) {
	arg := e.OstreeArg()
	if arg == "" {
		return nil, fmt.Errorf("%s: no ostree= kernel argument in its options", e.File)
	}
	bl, err := ParseBootLink(arg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.File, err)
	}
	target, err := s.files.Readlink(bl.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: ostree=%s: %w", e.File, bl.Path, err)
	}
	csum, serial, err := parseDeployName(filepath.Base(target))
	if err != nil {
		return nil, fmt.Errorf("%s: ostree=%s links to %s: %w", e.File, bl.Path, target, err)
	}
	d := &Deployment{
		OSName: bl.OSName, Checksum: csum, Serial: serial,
		BootChecksum: bl.BootChecksum, BootSerial: bl.BootSerial, Entry: e,
	}
	fi, err := s.files.Stat(bl.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: ostree=%s: deployment %s: %w", e.File, bl.Path, d.Name(), err)
	}
	d.DevIno, d.Deployed = statIDs(fi)
	s.fill(d)
	return d, nil
}

// parseDeployName splits "checksum.serial".
func parseDeployName(name string) (string, int, error) {
	csum, ser, ok := strings.Cut(name, ".")
	serial, err := strconv.Atoi(ser)
	if !ok || err != nil || serial < 0 || !validChecksum(csum) {
		return "", 0, fmt.Errorf("%q is not CHECKSUM.SERIAL", name)
	}
	return csum, serial, nil
}

// fill reads a deployment's origin, unlocked state and commits.
func (s *Sysroot) fill(d *Deployment) {
	dirRel := fmt.Sprintf("/ostree/deploy/%s/deploy/%s", d.OSName, d.Name())
	d.Dir = s.path(dirRel)
	originPath := dirRel + ".origin"
	if data, err := s.files.ReadFile(originPath, rootfs.Origin); err == nil {
		if d.Origin, err = ParseOrigin(originPath, data); err != nil {
			d.Problems = append(d.Problems, err.Error())
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		d.Problems = append(d.Problems, err.Error())
	}
	d.Unlocked = "none"
	state := "/run/ostree/deployment-state/" + d.Name()
	switch {
	case s.exists(path.Join(state, "unlocked-development")):
		d.Unlocked = "development"
	case s.exists(path.Join(state, "unlocked-transient")):
		d.Unlocked = "transient"
	case d.Origin != nil && d.Origin.Unlocked == "hotfix":
		d.Unlocked = "hotfix"
	}
	const repo = "/ostree/repo"
	c, err := ReadCommit(s.files, repo, d.Checksum)
	if err != nil {
		d.Problems = append(d.Problems, fmt.Sprintf("commit of deployment %s: %v", d.Name(), err))
		return
	}
	d.Commit, d.BaseCommit = c, c
	if c.ClientLayer() && c.Parent != "" {
		if d.BaseCommit, err = ReadCommit(s.files, repo, c.Parent); err != nil {
			d.BaseCommit = nil
			d.Problems = append(d.Problems, fmt.Sprintf("base commit of layered deployment %s: %v", d.Name(), err))
		}
	}
}

// exists reports whether host path p itself (a link not followed) exists.
func (s *Sysroot) exists(p string) bool {
	_, err := s.files.Lstat(p)
	return err == nil
}

// statIDs returns a directory's device and inode, and its ctime: when
// ostree wrote the deployment (it sets the immutable attribute last).
func statIDs(fi fs.FileInfo) (DevIno, time.Time) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return DevIno{}, time.Time{}
	}
	return DevIno{Dev: uint64(st.Dev), Ino: st.Ino}, time.Unix(st.Ctim.Unix()).UTC()
}

// readBooted reads what the initramfs left in /run and the running root's
// identity.
func (s *Sysroot) readBooted(o Options) {
	const booted = "/run/ostree-booted"
	data, err := s.files.ReadFile(booted, rootfs.State)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		s.problem("%v", err)
	default:
		s.OstreeBooted = true
		if len(data) > 0 {
			if s.BootedMetadata, err = DecodeVarDict(data); err != nil {
				s.problem("%s: %v", booted, err)
			}
		}
	}
	if cmd, err := s.files.ReadFile("/proc/cmdline", rootfs.Kernel); err == nil {
		if arg := kernelArg(string(cmd), "ostree"); arg != "" {
			if s.KernelArg, err = ParseBootLink(arg); err != nil {
				s.problem("/proc/cmdline: %v", err)
			}
		}
	}
	// Under composefs / is not the deployment directory itself;
	// ostree-prepare-root records the backing directory's identity.
	if v, ok := s.BootedMetadata["backing-root-device-inode"]; ok {
		if t, ok := v.Value.([]any); ok && v.Type == "(tt)" && len(t) == 2 {
			s.RootDevIno = DevIno{Dev: t[0].(uint64), Ino: t[1].(uint64)}
			return
		}
		s.problem("%s: backing-root-device-inode has type %s, not (tt)", booted, v.Type)
	}
	stat := o.StatRoot
	if stat == nil {
		stat = func() (DevIno, error) {
			fi, err := s.files.Stat("/")
			if err != nil {
				return DevIno{}, err
			}
			di, _ := statIDs(fi)
			return di, nil
		}
	}
	if s.RootDevIno, err = stat(); err != nil {
		s.problem("stat of the running root: %v", err)
	}
}

// readStaged reads /run/ostree/staged-deployment, the a{sv} that `ostree
// admin deploy --stage` leaves for ostree-finalize-staged.service: "target"
// is an a{sv} with name (checksum.serial), osname and bootcsum.
func (s *Sysroot) readStaged() {
	const p = "/run/ostree/staged-deployment"
	data, err := s.files.ReadFile(p, rootfs.State)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		s.problem("%v", err)
		return
	}
	dict, err := DecodeVarDict(data)
	if err != nil {
		s.problem("%s: %v", p, err)
		return
	}
	tv, ok := dict["target"]
	if !ok {
		return
	}
	target, ok := tv.Value.([]any)
	if !ok || tv.Type != "a{sv}" {
		s.problem("%s: target has type %s, not a{sv}", p, tv.Type)
		return
	}
	td := toVarDict(target)
	name, _ := td.String("name")
	osname, _ := td.String("osname")
	bootcsum, _ := td.String("bootcsum")
	csum, serial, err := parseDeployName(name)
	if err != nil || osname == "" {
		s.problem("%s: target names deployment %q of stateroot %q: not a deployment", p, name, osname)
		return
	}
	d := &Deployment{OSName: osname, Checksum: csum, Serial: serial, BootChecksum: bootcsum, Staged: true}
	d.FinalizationLocked, _ = dict.Bool("locked")
	if s.exists("/run/ostree/staged-deployment-locked") {
		d.FinalizationLocked = true
	}
	s.fill(d)
	if fi, err := s.files.Stat(fmt.Sprintf("/ostree/deploy/%s/deploy/%s", d.OSName, d.Name())); err != nil {
		d.Problems = append(d.Problems, fmt.Sprintf("staged deployment directory: %v", err))
	} else {
		d.DevIno, d.Deployed = statIDs(fi)
	}
	s.Staged = d
	s.Deployments = append([]*Deployment{d}, s.Deployments...)
}

func (s *Sysroot) findUnreferenced() {
	known := map[string]bool{}
	for _, d := range s.Deployments {
		known[d.OSName+"/"+d.Name()] = true
	}
	for _, osname := range s.Stateroots {
		ents, err := s.files.ReadDir("/ostree/deploy/" + osname + "/deploy")
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.problem("%v", err)
			}
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			if _, _, err := parseDeployName(e.Name()); err != nil {
				continue
			}
			if !known[osname+"/"+e.Name()] {
				s.Unreferenced = append(s.Unreferenced, osname+"/"+e.Name())
			}
		}
	}
}

// Package site owns the site's own checks: it finds the executables an
// operator drops into check.d (and, where enabled, greenboot's check
// scripts) through the host's confined file door, refuses the files that
// must not run as root, and runs one such file as a child process in its
// own process group, bounded in time and output. The checks made of them
// are registered by selftest/checks/site.
package site

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// The check.d directories, vendor first: a file in the admin directory
// masks the vendor file of the same name, as systemd's drop-in
// directories do (systemd.unit(5), "Drop-in directories").
var (
	VendorDir = "/usr/lib/atomic-selftest/check.d"
	AdminDir  = "/etc/atomic-selftest/check.d"
)

// greenboot's check directories, in the order greenboot runs them: the
// vendor one, then the admin one (fedora-iot/greenboot
// usr/libexec/greenboot/greenboot, SCRIPTS_CHECK_PATHS and its "check"
// case), each with required.d then wanted.d.
var (
	GreenbootVendorDir = "/usr/lib/greenboot/check"
	GreenbootAdminDir  = "/etc/greenboot/check"
)

// Kinds of check.d subdirectory: a required check counts for the run's
// exit status and [health], a wanted one only reports.
const (
	Required = "required"
	Wanted   = "wanted"
)

// Script is one file found: a check to run, or a refusal (Problem) that
// becomes a failing check naming the path.
type Script struct {
	// ID is the check id: site.<name> or site.greenboot.<name>.
	ID string
	// Name is the file's name; Path its host path (the one that runs,
	// after the admin's mask).
	Name string
	Path string
	// Required is true for the required directories.
	Required bool
	// Argv runs it: the path itself, or bash and the path for greenboot.
	Argv []string
	// Greenboot marks a greenboot script: any non-zero exit fails, 77
	// included, as greenboot's script_runner knows no skip.
	Greenboot bool
	// Masks is the vendor file an admin file of the same name replaced.
	Masks string
	// Problem, when set, says why the file is refused; it does not run.
	Problem string
}

// namePattern is a check.d file name that makes a check id (FoundID's
// name part): lower-case letters, digits and dashes.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// ignored are names a package manager or an editor leaves beside a file:
// they never run (systemd skips the same for its drop-ins).
func ignored(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
		return true
	}
	for _, s := range []string{".rpmnew", ".rpmsave", ".rpmorig", ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".swp"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Sanitize makes a check id's name of a file name greenboot or a careless
// admin gave: lower case, every other character a dash, ".sh" dropped
// ("01_repository_dns_check.sh" is "01-repository-dns-check").
func Sanitize(name string) string {
	name = strings.TrimSuffix(strings.ToLower(name), ".sh")
	var b strings.Builder
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		s = "unnamed"
	}
	return s
}

// CheckD finds the check.d files under vendor and admin (VendorDir and
// AdminDir on a host), sorted by id. A name in the admin directory masks
// the vendor's of the same name, whether required or wanted there (so an
// admin can demote a vendor check by dropping it into wanted/); a link to
// /dev/null masks without running anything. Every file it refuses is a
// Script with its Problem.
func CheckD(files rootfs.FS, vendor, admin string) []Script {
	byName := map[string]Script{}
	for _, base := range []string{vendor, admin} {
		level := map[string]Script{}
		masked := map[string]bool{}
		for _, kind := range []string{Required, Wanted} {
			dir := path.Join(base, kind)
			for _, s := range scan(files, dir, kind == Required, false) {
				if s.Path == "" {
					masked[s.Name] = true
					continue
				}
				if prev, dup := level[s.Name]; dup {
					s.Problem = fmt.Sprintf("%s is also %s: a name is one check, required or wanted", s.Path, prev.Path)
				}
				level[s.Name] = s
			}
		}
		for name := range masked {
			delete(byName, name)
		}
		for name, s := range level {
			if prev, ok := byName[name]; ok && base == admin {
				s.Masks = prev.Path
			}
			byName[name] = s
		}
	}
	out := make([]Script, 0, len(byName))
	for _, s := range byName {
		s.ID = "site." + s.Name
		if !namePattern.MatchString(s.Name) {
			s.ID = "site." + Sanitize(s.Name)
			if s.Problem == "" {
				s.Problem = fmt.Sprintf("%s: the file name %q is not a check name: use lower-case letters, digits and dashes (the check id is site.<file name>)", s.Path, s.Name)
			}
		}
		if s.Problem == "" {
			s.Argv = []string{s.Path}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Greenboot finds greenboot's check scripts as both of greenboot's
// runners do, so a script either would run runs here:
//   - the shell one, script_runner in fedora-iot/greenboot
//     usr/libexec/greenboot/greenboot: `find DIR -name '*.sh' | sort`
//     (subdirectories too), each run as `bash SCRIPT`, so a script needs
//     no execute bit;
//   - the Rust one, run_scripts in fedora-iot/greenboot-rs
//     src/lib/greenboot.rs: the regular files directly in DIR that end in
//     .sh (run with bash) or have an execute bit (run directly).
//
// DIR is required.d then wanted.d under /usr/lib/greenboot/check and then
// /etc/greenboot/check, with no masking between the two: both
// directories' scripts run, and any non-zero exit fails. Ids are
// site.greenboot.<Sanitize(name)>; where two scripts make one id, the
// later (the admin's) keeps it and the earlier gets "-vendor" added.
func Greenboot(files rootfs.FS, vendor, admin string) []Script {
	var out []Script
	seen := map[string]int{}
	for _, base := range []string{vendor, admin} {
		for _, kind := range []string{"required.d", "wanted.d"} {
			dir := path.Join(base, kind)
			for _, s := range scan(files, dir, kind == "required.d", true) {
				script := strings.HasSuffix(s.Name, ".sh")
				if s.Path == "" || (!script && !topExecutable(files, dir, s)) {
					continue
				}
				s.Greenboot = true
				s.ID = "site.greenboot." + Sanitize(s.Name)
				if i, dup := seen[s.ID]; dup {
					out[i].ID += "-vendor"
				}
				seen[s.ID] = len(out)
				switch {
				case s.Problem != "":
				case script:
					s.Argv = []string{"bash", s.Path}
				default:
					s.Argv = []string{s.Path}
				}
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// topExecutable reports whether s is a file directly in dir with an
// execute bit: greenboot-rs runs such a file whatever its name.
func topExecutable(files rootfs.FS, dir string, s Script) bool {
	if path.Dir(s.Path) != dir {
		return false
	}
	fi, err := files.Stat(s.Path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// owner is the uid owning fi (0 where the system does not say).
func owner(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return 0
}

// maxDepth bounds greenboot's recursive find.
const maxDepth = 8

// scan lists dir's files through the host's door. A missing directory has
// none; a world-writable directory refuses every file in it. A Script
// with an empty Path is a mask (a link to /dev/null). With recurse
// (greenboot's find), subdirectories are walked and a directory is no
// error.
func scan(files rootfs.FS, dir string, required, recurse bool) []Script {
	return scanDepth(files, dir, required, recurse, 0)
}

func scanDepth(files rootfs.FS, dir string, required, recurse bool, depth int) []Script {
	fi, err := files.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	dirProblem := ""
	switch {
	case err != nil:
		dirProblem = fmt.Sprintf("%s cannot be read: %v", dir, err)
	case !fi.IsDir():
		return []Script{{Name: path.Base(dir), Path: dir, Required: required, Problem: fmt.Sprintf("%s is not a directory", dir)}}
	case fi.Mode().Perm()&0o002 != 0:
		dirProblem = fmt.Sprintf("refused: the directory %s is world-writable (mode %04o), and its files would run as root", dir, fi.Mode().Perm())
	case owner(fi) != 0:
		dirProblem = fmt.Sprintf("refused: the directory %s is owned by uid %d, not root, and its files would run as root", dir, owner(fi))
	}
	entries, err := files.ReadDir(dir)
	if err != nil {
		return []Script{{Name: path.Base(dir), Path: dir, Required: required, Problem: fmt.Sprintf("listing %s: %v", dir, err)}}
	}
	var out []Script
	for _, e := range entries {
		name := e.Name()
		if ignored(name) {
			continue
		}
		p := path.Join(dir, name)
		s := Script{Name: name, Path: p, Required: required}
		if dirProblem != "" {
			s.Problem = dirProblem
			out = append(out, s)
			continue
		}
		problem, mask, isDir := inspect(files, dir, p, !recurse)
		switch {
		case mask:
			s.Path = ""
		case isDir && recurse:
			if depth < maxDepth {
				out = append(out, scanDepth(files, p, required, recurse, depth+1)...)
			}
			continue
		}
		s.Problem = problem
		out = append(out, s)
	}
	return out
}

// inspect decides whether the file p in dir may run as root: a regular
// file owned by root (another owner could change what root runs), executable where needExec (greenboot's scripts run through bash),
// not world-writable; a link resolved inside dir (a
// link to /dev/null is a mask; a link out of dir is refused, as what it
// points at is not the directory's to vouch for).
func inspect(files rootfs.FS, dir, p string, needExec bool) (problem string, mask, isDir bool) {
	fi, err := files.Lstat(p)
	if err != nil {
		return fmt.Sprintf("%s cannot be read: %v", p, err), false, false
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := files.Readlink(p)
		if err != nil {
			return fmt.Sprintf("%s is a link that cannot be read: %v", p, err), false, false
		}
		if target == "/dev/null" {
			return "", true, false
		}
		abs := target
		if !path.IsAbs(abs) {
			abs = path.Join(dir, target)
		}
		if path.Dir(path.Clean(abs)) != path.Clean(dir) {
			return fmt.Sprintf("refused: %s is a link out of its directory (to %s)", p, target), false, false
		}
		if fi, err = files.Stat(p); err != nil {
			return fmt.Sprintf("%s links to %s, which cannot be read: %v", p, target, err), false, false
		}
	}
	switch {
	case fi.IsDir():
		return fmt.Sprintf("%s is a directory, not an executable", p), false, true
	case !fi.Mode().IsRegular():
		return fmt.Sprintf("%s is not a regular file (%s)", p, fi.Mode().Type()), false, false
	case fi.Mode().Perm()&0o002 != 0:
		return fmt.Sprintf("refused: %s is world-writable (mode %04o), and it would run as root", p, fi.Mode().Perm()), false, false
	case owner(fi) != 0:
		return fmt.Sprintf("refused: %s is owned by uid %d, not root, and it would run as root", p, owner(fi)), false, false
	case needExec && fi.Mode().Perm()&0o111 == 0:
		return fmt.Sprintf("%s is not executable (mode %04o): chmod +x it, or remove it", p, fi.Mode().Perm()), false, false
	}
	return "", false, false
}

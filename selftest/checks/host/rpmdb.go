package host

import (
	"context"
	"errors"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.rpmdb",
		Criterion:   "HOST",
		Required:    false,
		Description: "the rpm database, where the tree has one, is readable by rpm and lists packages (rpm -qa --dbpath)",
		Timeout:     90 * time.Second,
		Offline:     true,
		Applies:     needRPMDB,
		Run:         checkRPMDB,
	})
}

// rpmDBDirs are where an rpm database lives, the first one found wins:
// [deployment] rpm_dbpath, then an ostree tree's /usr/share/rpm
// (rpm-ostree moves it there; /var/lib/rpm links to it), rpm 4.16's
// /usr/lib/sysimage/rpm and the classic /var/lib/rpm.
var rpmDBDirs = []string{"/usr/share/rpm", "/usr/lib/sysimage/rpm", "/var/lib/rpm"}

// rpmDBFiles are the database files of rpm's backends: sqlite (rpm 4.16
// and later, Fedora 33+), ndb, and Berkeley DB (Fedora Atomic Host).
var rpmDBFiles = []string{"rpmdb.sqlite", "Packages.db", "Packages"}

// rpmDB returns the database's directory and file, or "" when the tree
// has none.
func rpmDB(rc *selftest.RunContext) (dir, file string) {
	dirs := rpmDBDirs
	if db := rc.Config.Deployment.RPMDBPath; db != "" {
		dirs = []string{db}
	}
	for _, d := range dirs {
		for _, f := range rpmDBFiles {
			if rc.Exists(path.Join(d, f)) {
				return d, f
			}
		}
	}
	return "", ""
}

func needRPMDB(_ context.Context, rc *selftest.RunContext) string {
	if d, _ := rpmDB(rc); d == "" {
		return "no rpm database on this host (none of " + strings.Join(rpmDBFiles, ", ") + " in " + strings.Join(rpmDBDirs, ", ") + ")"
	}
	return ""
}

// checkRPMDB has rpm itself read the whole database: the Atomic Host
// release tests' rpmdb_verify role asks the same of `rpm -qa`, since a
// tree composed with a broken database passes every file check and fails
// at the first package layering.
func checkRPMDB(ctx context.Context, t *selftest.T) {
	dir, file := rpmDB(t.RunContext)
	if _, err := exec.LookPath("rpm"); err != nil {
		t.Skip("rpm is not installed here: %s cannot be read", path.Join(dir, file))
		return
	}
	// outside the door: rpm takes a path: the root-prefixed one.
	out, err := t.Host.Run(ctx, 60*time.Second, "rpm", "-qa", "--dbpath", t.Host.Path(dir))
	var ee *selftest.ExitError
	switch {
	case errors.As(err, &ee):
		t.Fail("rpm cannot read the database %s: %v", path.Join(dir, file), err)
		return
	case err != nil:
		t.Error("%v", err)
		return
	}
	n := len(strings.Fields(string(out)))
	t.Evidence("rpm -qa --dbpath "+dir, "at least one package", strconv.Itoa(n)+" package(s)")
	if n == 0 {
		t.Fail("the rpm database %s holds no package: rpm reads it, but it is empty", path.Join(dir, file))
		return
	}
	t.Pass("rpm reads the database %s: %d package(s)", path.Join(dir, file), n)
}

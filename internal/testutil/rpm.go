package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InstallRPM builds an empty noarch package name with rpmbuild and
// installs it into the rpm database at dbpath (--justdb), so `rpm -q`
// and `rpm -qa` really answer.
func InstallRPM(t testing.TB, dbpath, name string) {
	t.Helper()
	rpmbuild := NeedCommand(t, "rpm", "rpmbuild")
	top := t.TempDir()
	spec := filepath.Join(top, name+".spec")
	if err := os.WriteFile(spec, []byte("Name: "+name+"\nVersion: 1.0\nRelease: 1\nSummary: test\nLicense: MIT\nBuildArch: noarch\n%description\ntest\n%files\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(rpmbuild, "-bb", "--define", "_topdir "+top, spec).CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild: %v\n%s", err, out)
	}
	pkgs, _ := filepath.Glob(filepath.Join(top, "RPMS", "noarch", name+"-*.rpm"))
	if len(pkgs) != 1 {
		t.Fatalf("built %v", pkgs)
	}
	if out, err := exec.Command("rpm", "--dbpath", dbpath, "-i", "--justdb", "--nodeps", pkgs[0]).CombinedOutput(); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
}

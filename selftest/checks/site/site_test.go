package site

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// put writes a file under root with mode.
func put(t *testing.T, root, rel, body string, mode os.FileMode) {
	t.Helper()
	p := testutil.WriteFile(t, root, rel, body)
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// found runs the site's checks the sources find under root, as a live
// host's run would (the temporary root stands for /).
func found(t *testing.T, root string, cfg *config.Config, offline bool) (map[string]record.Result, []string) {
	t.Helper()
	h := selftest.NewHost(root)
	h.Offline = offline
	rc := selftest.NewRunContext(h, cfg)
	rc.Trigger, rc.ResultsDir, h.BootID = record.TriggerBoot, "/var/lib/atomic-selftest", "0123abcd"
	reg, problems := selftest.Default.ForRun(rc)
	var checks []*selftest.Check
	for _, c := range reg.All() {
		if strings.HasPrefix(c.ID, "site.") && c.ID != "site.policy" {
			checks = append(checks, c)
		}
	}
	rec := checktest.Run(rc, checks...)
	out := map[string]record.Result{}
	for _, r := range rec.Checks {
		out[r.ID] = r
	}
	return out, problems
}

const (
	vendor = "usr/lib/atomic-selftest/check.d/"
	admin  = "etc/atomic-selftest/check.d/"
)

// Every rule of check.d on one tree: exit codes, masking, the files that
// are refused with their path, a hang, a daemon.
func TestCheckD(t *testing.T) {
	testutil.NeedCommand(t, "sh", "sh")
	testutil.NeedRoot(t) // files of root and of another user
	root := t.TempDir()
	sh := "#!/bin/sh\n"
	put(t, root, vendor+"required/vendor-ok", sh+"echo vendor fine", 0o755)
	put(t, root, vendor+"required/demoted", sh+"echo vendor says no; exit 1", 0o755)
	put(t, root, admin+"wanted/demoted", sh+"echo admin says yes", 0o755)
	put(t, root, vendor+"wanted/gone", sh+"exit 1", 0o755)
	if err := os.Symlink("/dev/null", filepath.Join(root, admin+"wanted/gone")); err != nil {
		t.Fatal(err)
	}
	put(t, root, admin+"required/10-app", sh+"echo checking the app; echo 'db down: connection refused' >&2; exit 3", 0o755)
	put(t, root, admin+"required/20-not-here", sh+"echo no GPU; exit 77", 0o755)
	put(t, root, admin+"required/noexec", sh+"exit 0", 0o644)
	put(t, root, admin+"required/open", sh+"exit 0", 0o777)
	put(t, root, admin+"required/users", sh+"exit 0", 0o755)
	if err := os.Lchown(filepath.Join(root, admin+"required/users"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	put(t, root, admin+"required/Bad_Name.sh", sh+"exit 0", 0o755)
	put(t, root, admin+"required/hang", sh+"echo waiting; sleep 32001", 0o755)
	put(t, root, admin+"required/daemon", sh+"sleep 32002 >/dev/null 2>&1 &\necho started", 0o755)
	put(t, root, admin+"required/signal", sh+"kill -KILL $$", 0o755)
	put(t, root, admin+"wanted/flood", sh+"head -c 268435456 /dev/zero; echo; echo flooded", 0o755)
	put(t, root, admin+"required/env", sh+`test "$ATOMIC_SELFTEST_TRIGGER/$ATOMIC_SELFTEST_BOOT_ID/$ATOMIC_SELFTEST_RESULTS_DIR" = boot/0123abcd//var/lib/atomic-selftest || { env; exit 1; }`, 0o755)
	put(t, root, "usr/bin/tool", sh+"exit 0", 0o755)
	if err := os.Symlink("/usr/bin/tool", filepath.Join(root, admin+"required/outside")); err != nil {
		t.Fatal(err)
	}
	// A link inside its directory runs what it points at.
	if err := os.Symlink("env", filepath.Join(root, admin+"required/env-alias")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, admin+"required/adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	put(t, root, admin+"required/.hidden", sh+"exit 1", 0o755)
	put(t, root, admin+"required/10-app.rpmsave", sh+"exit 1", 0o755)

	cfg := config.Defaults()
	cfg.Site.Timeouts["hang"] = config.Duration(300 * time.Millisecond)
	res, problems := found(t, root, cfg, false)
	if len(problems) > 0 {
		t.Errorf("problems: %q", problems)
	}
	etc := "/" + admin + "required/"
	rows := []struct {
		id       string
		status   record.Status
		required bool
		parts    []string
	}{
		{"site.vendor-ok", record.StatusPass, true, []string{"/" + vendor + "required/vendor-ok exited 0: vendor fine"}},
		// The admin's file of the same name masks the vendor's, and here
		// demotes it to wanted.
		{"site.demoted", record.StatusPass, false, []string{"/" + admin + "wanted/demoted exited 0: admin says yes"}},
		{"site.10-app", record.StatusFail, true, []string{etc + "10-app exited 3: db down: connection refused"}},
		{"site.20-not-here", record.StatusSkip, true, []string{"exited 77", "no GPU"}},
		{"site.noexec", record.StatusFail, true, []string{etc + "noexec is not executable (mode 0644)"}},
		{"site.open", record.StatusFail, true, []string{"refused: " + etc + "open is world-writable (mode 0777)"}},
		{"site.users", record.StatusFail, true, []string{"refused: " + etc + "users is owned by uid 1000, not root"}},
		{"site.bad-name", record.StatusFail, true, []string{etc + `Bad_Name.sh: the file name "Bad_Name.sh" is not a check name`}},
		{"site.hang", record.StatusFail, true, []string{etc + "hang timed out after 0.3 s; its process group was killed: waiting"}},
		{"site.daemon", record.StatusFail, true, []string{etc + "daemon left 1 process(es) running (", "its process group was killed"}},
		{"site.signal", record.StatusFail, true, []string{etc + "signal was killed by SIGKILL"}},
		{"site.env", record.StatusPass, true, []string{"exited 0"}},
		{"site.env-alias", record.StatusPass, true, []string{etc + "env-alias exited 0"}},
		{"site.flood", record.StatusPass, false, []string{"exited 0: flooded"}},
		{"site.outside", record.StatusFail, true, []string{"refused: " + etc + "outside is a link out of its directory (to /usr/bin/tool)"}},
		{"site.adir", record.StatusFail, true, []string{etc + "adir is a directory"}},
	}
	for _, row := range rows {
		r, ok := res[row.id]
		if !ok {
			t.Errorf("%s: no result (have %v)", row.id, keys(res))
			continue
		}
		checktest.Expect(t, r, row.status, row.parts...)
		if r.Required != row.required || r.Criterion != "SITE" {
			t.Errorf("%s: required %v criterion %s, want %v SITE", row.id, r.Required, r.Criterion, row.required)
		}
	}
	if len(res) != len(rows) {
		t.Errorf("got %d site checks %v, want %d (gone is masked, hidden and backup files never run)", len(res), keys(res), len(rows))
	}
	// 256 MiB of output leave 8 KiB of it (NULs escaped: 4 bytes each) in
	// the record: nothing a script prints can swell the record.
	if ev := res["site.flood"].Evidence; len(ev) != 1 || ev[0].Name != "output (last 8192 of 268435465 bytes)" || len(ev[0].Seen) > 4*8192 {
		t.Errorf("flood's evidence: %+.200v", ev)
	}
	if ev := res["site.10-app"].Evidence; len(ev) != 1 || ev[0].Seen != `checking the app\ndb down: connection refused` {
		t.Errorf("10-app's evidence: %+v", ev)
	}
	pgrep := testutil.NeedCommand(t, "procps", "pgrep")
	if out, err := execOut(pgrep, "-f", "sleep 3200[12]"); err == nil {
		t.Errorf("processes left behind: %s", out)
	}

	// Under --sysroot they are listed, not run.
	off, _ := found(t, root, cfg, true)
	checktest.Expect(t, off["site.10-app"], record.StatusSkip, "not run against --sysroot")
}

// A world-writable check.d directory refuses every file in it.
func TestCheckDWorldWritableDirectory(t *testing.T) {
	root := t.TempDir()
	put(t, root, admin+"wanted/fine", "#!/bin/sh\nexit 0\n", 0o755)
	if err := os.Chmod(filepath.Join(root, admin+"wanted"), 0o777); err != nil {
		t.Fatal(err)
	}
	res, _ := found(t, root, config.Defaults(), false)
	checktest.Expect(t, res["site.fine"], record.StatusFail, "refused: the directory /"+admin+"wanted is world-writable (mode 0777)")
}

// greenboot's scripts, where [site] greenboot is on: *.sh in required.d
// and wanted.d of both directories, also in subdirectories, run with bash
// (no execute bit needed), executables directly, any non-zero exit a
// failure (77 too), both directories' scripts run; a README never runs.
func TestGreenboot(t *testing.T) {
	testutil.NeedCommand(t, "bash", "bash")
	testutil.NeedRoot(t) // a script not root's is refused
	root := t.TempDir()
	put(t, root, "usr/lib/greenboot/check/required.d/01_repository_dns_check.sh", "echo dns ok\n", 0o644)
	put(t, root, "usr/lib/greenboot/check/required.d/README", "not a script\n", 0o644)
	put(t, root, "etc/greenboot/check/wanted.d/02_skip.sh", "exit 77\n", 0o644)
	put(t, root, "etc/greenboot/check/wanted.d/04-binary", "#!/bin/sh\necho run directly\n", 0o755)
	put(t, root, "etc/greenboot/check/required.d/sub/03_nested.sh", "exit 0\n", 0o644)
	put(t, root, "etc/greenboot/check/required.d/01_repository_dns_check.sh", "echo admin dns\n", 0o644)
	res, _ := found(t, root, config.Defaults(), false)
	for id := range res {
		if strings.HasPrefix(id, "site.greenboot.") {
			t.Fatalf("greenboot's scripts ran while [site] greenboot is off: %s", id)
		}
	}
	cfg := config.Defaults()
	cfg.Site.Greenboot = true
	res, _ = found(t, root, cfg, false)
	checktest.Expect(t, res["site.greenboot.01-repository-dns-check"], record.StatusPass, "/etc/greenboot/check/required.d/01_repository_dns_check.sh exited 0: admin dns")
	checktest.Expect(t, res["site.greenboot.01-repository-dns-check-vendor"], record.StatusPass, "/usr/lib/greenboot/check/required.d/01_repository_dns_check.sh exited 0: dns ok")
	checktest.Expect(t, res["site.greenboot.02-skip"], record.StatusFail, "exited 77")
	checktest.Expect(t, res["site.greenboot.03-nested"], record.StatusPass)
	// greenboot-rs runs an executable of any name, directly.
	checktest.Expect(t, res["site.greenboot.04-binary"], record.StatusPass, "/etc/greenboot/check/wanted.d/04-binary exited 0: run directly")
	if res["site.greenboot.02-skip"].Required || !res["site.greenboot.03-nested"].Required {
		t.Errorf("wanted.d must be wanted and required.d required")
	}
	if len(res) != 5 {
		t.Errorf("got %v", keys(res))
	}
}

func keys(m map[string]record.Result) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

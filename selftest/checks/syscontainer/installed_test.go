package syscontainer

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/syscontainerfmt"
)

const etcdImage = "registry.fedoraproject.org/f27/etcd"

// atomicInfo is an info file as the atomic CLI writes it
// (_write_info_file: json.dumps(info, indent=4)).
func atomicInfo(image string, service bool) string {
	info := map[string]any{
		"image": image, "revision": "3f2a1c0de5b6", "ostree-commit": "9c1e77aa",
		"created": 1528106400, "values": map[string]string{}, "has-container-service": service,
		"installed-files": []string{}, "installed-files-checksum": map[string]string{},
		"installed-files-template": []string{}, "rename-installed-files": map[string]string{},
		"rpm-installed": nil, "system-package": "no", "remote": nil, "use-links": true,
		"runtime": "/usr/bin/runc",
	}
	b, _ := json.MarshalIndent(info, "", "    ")
	return string(b) + "\n"
}

// installedTree makes a host root with the atomic CLI's layout: etcd
// checked out as etcd.0 behind the etcd link, its image's ref committed
// with the real ostree into /ostree/repo, and running under the real runc
// with the root's /run/runc as runc's root; flannel preinstalled in /usr
// with no service.
func installedTree(t *testing.T) (string, *selftest.RunContext, *checktest.Systemd) {
	t.Helper()
	testutil.NeedRunc(t)
	testutil.NeedCommand(t, "ostree", "ostree")
	root := t.TempDir()
	co := filepath.Join(root, "var/lib/containers/atomic")
	bundle := filepath.Join(co, "etcd.0")
	if err := os.MkdirAll(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(sleeperBin(t))
	os.WriteFile(filepath.Join(bundle, "rootfs/sleeper"), b, 0o755)
	if err := probe.WriteRuncSpec(bundle, probe.RuncSpec([]string{"/sleeper"})); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, bundle, "info", atomicInfo(etcdImage, true))
	os.Symlink("/var/lib/containers/atomic/etcd.0", filepath.Join(co, "etcd"))
	os.MkdirAll(filepath.Join(co, ".storage"), 0o700)

	pre := filepath.Join(root, "usr/lib/containers/atomic/flannel")
	testutil.WriteFile(t, pre, "info", atomicInfo("docker.io/flannel:v1", false))
	testutil.WriteFile(t, pre, "config.json", `{"ociVersion": "1.0.0", "process": {"args": ["/flanneld"]}}`)

	repo := filepath.Join(root, "ostree/repo")
	os.MkdirAll(repo, 0o755)
	empty := t.TempDir()
	for _, argv := range [][]string{
		{"ostree", "init", "--repo=" + repo, "--mode=bare-user-only"},
		{"ostree", "commit", "--repo=" + repo, "--branch=" + syscontainerfmt.OciImagePrefix + syscontainerfmt.EncodeOstreeRef(etcdImage), "--tree=dir=" + empty, "--no-xattrs", "--subject=etcd image"},
		{"ostree", "commit", "--repo=" + repo, "--branch=" + syscontainerfmt.OciImagePrefix + syscontainerfmt.EncodeOstreeRef("docker.io/flannel:v1"), "--tree=dir=" + empty, "--no-xattrs", "--subject=flannel image"},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", argv, err, out)
		}
	}

	runcRoot := filepath.Join(root, "run/runc")
	// The container inherits runc create's stdio: give it none, or a
	// pipe would stay open for as long as the container runs.
	create := exec.Command("runc", "--root", runcRoot, "create", "--bundle", bundle, "etcd")
	if err := create.Run(); err != nil {
		t.Fatalf("runc create: %v", err)
	}
	t.Cleanup(func() { exec.Command("runc", "--root", runcRoot, "delete", "--force", "etcd").Run() })
	if out, err := exec.Command("runc", "--root", runcRoot, "start", "etcd").CombinedOutput(); err != nil {
		t.Fatalf("runc start: %v %s", err, out)
	}

	h := selftest.NewRunContext(selftest.NewHost(root), nil)
	h.Offline = false // a live host whose files happen to sit under root
	sd := checktest.NewSystemd(map[string]selftest.UnitState{
		"etcd.service": {Name: "etcd.service", LoadState: "loaded", ActiveState: "active", SubState: "running"},
	})
	h.NewSystemd = func(context.Context) (selftest.Systemd, error) { return sd, nil }
	return root, h, sd
}

func TestInstalledHealthy(t *testing.T) {
	_, h, _ := installedTree(t)
	r := runCheck(t, h, registered(t, "syscontainer.installed"))
	if r.Status != record.StatusPass || r.Message != "2 system container(s) installed and healthy: etcd, flannel" {
		t.Fatalf("%s: %s\n%s", r.Status, r.Message, evidence(r))
	}
}

// Each way a container breaks is named with the container.
func TestInstalledBroken(t *testing.T) {
	cases := []struct {
		name   string
		breaks func(t *testing.T, root string, sd *checktest.Systemd)
		want   string
	}{
		{"unit inactive", func(t *testing.T, root string, sd *checktest.Systemd) {
			sd.Set("etcd.service", selftest.UnitState{LoadState: "loaded", ActiveState: "failed", SubState: "failed"})
		}, "etcd: unit etcd.service is failed (failed)"},
		{"unit missing", func(t *testing.T, root string, sd *checktest.Systemd) {
			sd.Remove("etcd.service")
		}, "etcd: unit etcd.service is not-found"},
		{"container stopped", func(t *testing.T, root string, sd *checktest.Systemd) {
			runcRoot := filepath.Join(root, "run/runc")
			exec.Command("runc", "--root", runcRoot, "kill", "etcd", "KILL").Run()
			for i := 0; i < 100; i++ {
				out, _ := exec.Command("runc", "--root", runcRoot, "state", "etcd").Output()
				if strings.Contains(string(out), `"stopped"`) {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Fatal("etcd did not stop")
		}, "is not running"},
		{"runc does not know it", func(t *testing.T, root string, sd *checktest.Systemd) {
			exec.Command("runc", "--root", filepath.Join(root, "run/runc"), "delete", "--force", "etcd").Run()
		}, "etcd: runc does not know the container (no /run/runc/etcd/state.json)"},
		{"image ref gone", func(t *testing.T, root string, sd *checktest.Systemd) {
			out, err := exec.Command("ostree", "refs", "--repo="+filepath.Join(root, "ostree/repo"), "--delete", syscontainerfmt.OciImagePrefix+syscontainerfmt.EncodeOstreeRef(etcdImage)).CombinedOutput()
			if err != nil {
				t.Fatalf("%v %s", err, out)
			}
		}, "etcd: image registry.fedoraproject.org/f27/etcd is not in the ostree repository (no ref ociimage/registry.fedoraproject.org_2Ff27_2Fetcd_3Alatest in /ostree/repo or /var/lib/containers/atomic/.storage/ostree)"},
		{"config.json missing", func(t *testing.T, root string, sd *checktest.Systemd) {
			os.Remove(filepath.Join(root, "usr/lib/containers/atomic/flannel/config.json"))
		}, "flannel: /usr/lib/containers/atomic/flannel/config.json is missing"},
		{"link loop", func(t *testing.T, root string, sd *checktest.Systemd) {
			os.Symlink("/var/lib/containers/atomic/loopy", filepath.Join(root, "var/lib/containers/atomic/loopy"))
		}, "loopy: resolving /var/lib/containers/atomic/loopy: too many levels of symbolic links"},
		{"dangling link", func(t *testing.T, root string, sd *checktest.Systemd) {
			os.Symlink("/var/lib/containers/atomic/gone.1", filepath.Join(root, "var/lib/containers/atomic/gone"))
		}, "gone: /var/lib/containers/atomic/gone points to /var/lib/containers/atomic/gone.1, which does not exist"},
		{"malformed info", func(t *testing.T, root string, sd *checktest.Systemd) {
			testutil.WriteFile(t, filepath.Join(root, "var/lib/containers/atomic/bad"), "info", `{"image": "x", `)
			testutil.WriteFile(t, filepath.Join(root, "var/lib/containers/atomic/bad"), "config.json", `{}`)
		}, "bad: /var/lib/containers/atomic/bad/info: unexpected end of JSON input"},
		{"100 MB info", func(t *testing.T, root string, sd *checktest.Systemd) {
			p := testutil.WriteFile(t, filepath.Join(root, "var/lib/containers/atomic/big"), "info", `{"image": "`)
			os.Truncate(p, 100<<20) // sparse
			testutil.WriteFile(t, filepath.Join(root, "var/lib/containers/atomic/big"), "config.json", `{}`)
		}, "big: reading /var/lib/containers/atomic/big/info: larger than the 1 MiB limit for container records"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, h, sd := installedTree(t)
			c.breaks(t, root, sd)
			r := runCheck(t, h, registered(t, "syscontainer.installed"))
			want := strings.ReplaceAll(c.want, "ROOT", root)
			if r.Status != record.StatusFail || !strings.Contains(r.Message, want) {
				t.Fatalf("%s: %s\nwant %q", r.Status, r.Message, want)
			}
		})
	}
}

func TestInstalledNone(t *testing.T) {
	h := selftest.NewRunContext(selftest.NewHost(t.TempDir()), nil)
	r := runCheck(t, h, registered(t, "syscontainer.installed"))
	if r.Status != record.StatusSkip || !strings.Contains(r.Message, "no system containers are installed") {
		t.Fatalf("%s: %s", r.Status, r.Message)
	}
}

func TestProcStart(t *testing.T) {
	for in, want := range map[string]uint64{
		"1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1 2":            42,
		"7 (a) b (c)) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 4711 1 2 3 4 5 6": 4711,
	} {
		if state, got, ok := procStart([]byte(in)); !ok || got != want || state != "S" {
			t.Errorf("procStart(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	if _, _, ok := procStart([]byte("1 (x) S 0")); ok {
		t.Error("a short stat parsed")
	}
}

package storage

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/podmantest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/storageconf"
)

// podmanHost is host with podman as the engine, on socket.
func podmanHost(t *testing.T, dir, socket string) *selftest.RunContext {
	h := host(t, dir, "/nonexistent/docker.sock")
	h.Config.Runtime.Engine = config.EnginePodman
	h.Config.Runtime.PodmanSocket = socket
	return h
}

const vendorConf = `# containers-storage's vendor file, as Fedora ships it
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"

[storage.options.overlay]
mountopt = "nodev,metacopy=on"
`

func TestReadStorageConf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  storageconf.StorageConf
		err   string
	}{
		{name: "none", files: map[string]string{"etc/hostname": "h\n"},
			want: storageconf.StorageConf{GraphRoot: storageconf.DefaultGraphRoot, RunRoot: storageconf.DefaultRunRoot}},
		{name: "vendor", files: map[string]string{"usr/share/containers/storage.conf": vendorConf},
			want: storageconf.StorageConf{File: storageconf.StorageConfVendor, Driver: "overlay", GraphRoot: storageconf.DefaultGraphRoot, RunRoot: storageconf.DefaultRunRoot, Overlay: map[string]string{"mountopt": "nodev,metacopy=on"}}},
		{name: "admin replaces vendor, not merged", files: map[string]string{
			"usr/share/containers/storage.conf": vendorConf,
			"etc/containers/storage.conf":       "[storage]\ndriver = \"overlay2\"\ngraphroot = \"/var/srv/containers\"\n",
		}, want: storageconf.StorageConf{File: storageconf.StorageConfAdmin, Shadowed: storageconf.StorageConfVendor, Driver: "overlay", GraphRoot: "/var/srv/containers", RunRoot: storageconf.DefaultRunRoot}},
		{name: "relative graphroot", files: map[string]string{"etc/containers/storage.conf": "[storage]\ndriver = \"vfs\"\ngraphroot = \"containers\"\n"},
			want: storageconf.StorageConf{File: storageconf.StorageConfAdmin, Driver: "vfs", GraphRoot: "containers", RunRoot: storageconf.DefaultRunRoot,
				Problems: []string{`/etc/containers/storage.conf [storage] graphroot = "containers" is not an absolute path`}}},
		{name: "not toml", files: map[string]string{"etc/containers/storage.conf": "[storage\n"}, err: "/etc/containers/storage.conf is not valid TOML"},
	} {
		sc, err := storageconf.ReadStorageConf(selftest.NewRunContext(selftest.NewHost(root(t, tc.files)), config.Defaults()).Files())
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got, want := jsonOf(t, sc), jsonOf(t, &tc.want); got != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
	}
}

// podmanUnit makes the fixture a host with podman installed.
const podmanUnit = "usr/lib/systemd/system/podman.socket"

func TestPodmanConfigCheck(t *testing.T) {
	h := podmanHost(t, root(t, map[string]string{podmanUnit: "[Socket]\n", "usr/share/containers/storage.conf": vendorConf}), "/nonexistent/podman.sock")
	checktest.Expect(t, run(t, h, "storage.config"), record.StatusPass, "driver overlay, graphroot /var/lib/containers/storage", storageconf.StorageConfVendor)
	h = podmanHost(t, root(t, map[string]string{podmanUnit: "[Socket]\n", "usr/share/containers/storage.conf": vendorConf,
		"etc/containers/storage.conf": "[storage]\ndriver = \"vfs\"\n"}), "/nonexistent/podman.sock")
	h.Config.Storage.Driver = "overlay2"
	checktest.Expect(t, run(t, h, "storage.config"), record.StatusFail, "[storage] driver is overlay2", "/etc/containers/storage.conf (which replaces /usr/share/containers/storage.conf) configures vfs")
	h = podmanHost(t, root(t, map[string]string{podmanUnit: "[Socket]\n", "etc/containers/storage.conf": "driver = overlay\n"}), "/nonexistent/podman.sock")
	checktest.Expect(t, run(t, h, "storage.config"), record.StatusFail, "/etc/containers/storage.conf is not valid TOML")
}

// TestPodmanDriverReal: storage.driver against Debian's real podman
// service, whose storage is overlay in its private graph root: it passes
// when storage.conf says so (and d_type is proved on the real directory),
// and fails naming both when storage.conf names another graph root or
// driver.
func TestPodmanDriverReal(t *testing.T) {
	s := podmantest.Start(t)
	graph := filepath.Join(s.Dir, "root")
	conf := "[storage]\ndriver = \"overlay\"\nrunroot = \"" + filepath.Join(s.Dir, "run") + "\"\ngraphroot = \"" + graph + "\"\n"
	h := podmanHost(t, root(t, map[string]string{"etc/containers/storage.conf": conf}), s.Socket)
	res := run(t, h, "storage.driver")
	checktest.Expect(t, res, record.StatusPass, "podman uses overlay in "+graph)
	if ev := evidence(res, "d_type on"); ev != "supported" {
		t.Errorf("d_type evidence %q, want supported (evidence %+v)", ev, res.Evidence)
	}

	h = podmanHost(t, root(t, map[string]string{"usr/share/containers/storage.conf": vendorConf}), s.Socket)
	checktest.Expect(t, run(t, h, "storage.driver"), record.StatusFail, "podman stores in "+graph, "graphroot /var/lib/containers/storage")

	h = podmanHost(t, root(t, map[string]string{"etc/containers/storage.conf": strings.Replace(conf, `"overlay"`, `"vfs"`, 1)}), s.Socket)
	checktest.Expect(t, run(t, h, "storage.driver"), record.StatusFail, "podman uses overlay, but /etc/containers/storage.conf configures vfs")
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

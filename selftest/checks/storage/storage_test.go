package storage

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/runtime"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	"github.com/atomic-selftest/atomic-selftest/selftest/config"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/dockertest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
	"github.com/atomic-selftest/atomic-selftest/selftest/storageconf"
)

func TestMain(m *testing.M) { dockertest.Main(m) }

// Fixtures. fedoraUnit is the [Service] part of docker.service from
// Fedora's docker-1.13.1 package (Fedora Atomic Host 27/28), as public
// copies of /usr/lib/systemd/system/docker.service show it: the three
// sysconfig environment files and dockerd-current with $OPTIONS and
// $DOCKER_STORAGE_OPTIONS.
const fedoraUnit = `[storageconf.Unit]
Description=Docker Application Container Engine
Documentation=http://docs.docker.com
After=network.target
Wants=docker-storage-setup.service
Requires=docker-cleanup.timer

[Service]
Type=notify
NotifyAccess=all
EnvironmentFile=-/run/containers/registries.conf
EnvironmentFile=-/etc/sysconfig/docker
EnvironmentFile=-/etc/sysconfig/docker-storage
EnvironmentFile=-/etc/sysconfig/docker-network
Environment=GOTRACEBACK=crash
Environment=DOCKER_HTTP_HOST_COMPAT=1
Environment=PATH=/usr/libexec/docker:/usr/bin:/usr/sbin
ExecStart=/usr/bin/dockerd-current \
          --add-runtime docker-runc=/usr/libexec/docker/docker-runc-current \
          --default-runtime=docker-runc \
          --exec-opt native.cgroupdriver=systemd \
          --userland-proxy-path=/usr/libexec/docker/docker-proxy-current \
          --init-path=/usr/libexec/docker/docker-init-current \
          --seccomp-profile=/etc/docker/seccomp.json \
          $OPTIONS \
          $DOCKER_STORAGE_OPTIONS \
          $DOCKER_NETWORK_OPTIONS \
          $ADD_REGISTRY \
          $BLOCK_REGISTRY \
          $INSECURE_REGISTRY \
	  $REGISTRIES
ExecReload=/bin/kill -s HUP $MAINPID
Restart=on-abnormal

[Install]
WantedBy=multi-user.target
`

// fedoraSysconfigDocker is /etc/sysconfig/docker of the same package
// (OPTIONS without storage flags).
const fedoraSysconfigDocker = `# /etc/sysconfig/docker

# Modify these options if you want to change the way the docker daemon runs
OPTIONS='--selinux-enabled --log-driver=journald --live-restore'
if [ -z "${DOCKER_CERT_PATH}" ]; then
    DOCKER_CERT_PATH=/etc/docker
fi
`

// The docker-storage-setup files in container-storage-setup's formats
// (commit 413b4080c0b9): its input is shell assignments
// (container-storage-setup.conf), its compatibility-mode output one line
// written by write_storage_config_file. For devicemapper the line comes
// from get_devicemapper_config_options, whose unquoted echo leaves a
// blank before the closing quote; for overlay2 from get_config_options.
const (
	dssOverlay2     = "STORAGE_DRIVER=overlay2\n"
	storageOverlay2 = `DOCKER_STORAGE_OPTIONS="--storage-driver overlay2 "` + "\n"
	dssDevmapper    = "STORAGE_DRIVER=devicemapper\nVG=atomicos\nDEVS=/dev/vdb\n"
	storageDevmap   = `DOCKER_STORAGE_OPTIONS="--storage-driver devicemapper --storage-opt dm.fs=xfs --storage-opt dm.thinpooldev=/dev/mapper/atomicos-docker--pool --storage-opt dm.use_deferred_removal=true --storage-opt dm.use_deferred_deletion=true "` + "\n"
	// debianUnit is Debian 12's docker.io docker.service: no sysconfig files.
	debianUnit = "[Service]\nEnvironmentFile=-/etc/default/docker\nExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS\n"
)

// root writes a fixture root from path -> content (missing content: no
// file).
func root(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		testutil.WriteFile(t, dir, p, content)
	}
	return dir
}

func fedora(dss, storage string) map[string]string {
	m := map[string]string{
		"usr/lib/systemd/system/docker.service": fedoraUnit,
		"etc/sysconfig/docker":                  fedoraSysconfigDocker,
	}
	if dss != "" {
		m["etc/sysconfig/docker-storage-setup"] = dss
	}
	if storage != "" {
		m["etc/sysconfig/docker-storage"] = storage
	}
	return m
}

func pathIn(dir string) rootfs.FS { return rootfs.FS{Root: dir} }

func TestReadSetup(t *testing.T) {
	with := func(m map[string]string, p, content string) map[string]string {
		m[p] = content
		return m
	}
	for _, tc := range []struct {
		name     string
		files    map[string]string
		want     string // storage.driver of the self-test's config
		driver   string
		pool     string
		problems []string
	}{
		// The Fedora Atomic Host 28 default: overlay2 end to end.
		{"overlay2", fedora(dssOverlay2, storageOverlay2), "", "overlay2", "", nil},
		// Fedora Atomic Host 25/26 with a second disk: a thin pool.
		{"devicemapper", fedora(dssDevmapper, storageDevmap), "", "devicemapper", "/dev/mapper/atomicos-docker--pool", nil},
		// The admin switched to overlay2 but docker-storage-setup keeps
		// the old configuration until docker-storage is removed.
		{"changed after setup", fedora(dssOverlay2, storageDevmap), "", "devicemapper", "/dev/mapper/atomicos-docker--pool",
			[]string{"asks for STORAGE_DRIVER=overlay2 but /etc/sysconfig/docker-storage configures devicemapper"}},
		// devicemapper without a pool: dockerd falls back to loop files.
		{"no thin pool", fedora("STORAGE_DRIVER=devicemapper\n", `DOCKER_STORAGE_OPTIONS="--storage-driver devicemapper "`+"\n"), "", "devicemapper", "",
			[]string{"without dm.thinpooldev"}},
		// The pool is not the one VG names.
		{"pool of another VG", fedora("STORAGE_DRIVER=devicemapper\nVG=docker-vg\n", storageDevmap), "", "devicemapper", "/dev/mapper/atomicos-docker--pool",
			[]string{"VG=docker-vg", "/dev/mapper/docker--vg-docker--pool"}},
		// daemon.json and the command line both set the driver.
		{"daemon.json and flags", with(fedora(dssOverlay2, storageOverlay2), "etc/docker/daemon.json", `{"storage-driver": "overlay2", "log-driver": "journald"}`), "", "overlay2", "",
			[]string{"both on dockerd's command line"}},
		// daemon.json alone decides when nothing else does.
		{"daemon.json", map[string]string{"usr/lib/systemd/system/docker.service": debianUnit, "etc/docker/daemon.json": `{"storage-driver": "vfs"}`}, "", "vfs", "", nil},
		// A drop-in replaces ExecStart and loses $DOCKER_STORAGE_OPTIONS.
		{"drop-in drops the options", with(fedora(dssOverlay2, storageOverlay2), "etc/systemd/system/docker.service.d/50-mine.conf", "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd-current $OPTIONS\n"), "", "", "",
			[]string{"does not pass $DOCKER_STORAGE_OPTIONS"}},
		// docker-storage-setup is configured but never wrote its output.
		{"setup never ran", fedora(dssOverlay2, ""), "", "", "", []string{"has not run, or failed"}},
		// Debian: nothing configured, the daemon chooses.
		{"nothing", map[string]string{"usr/lib/systemd/system/docker.service": debianUnit}, "", "", "", nil},
		// The self-test's configuration demands overlay2.
		{"demanded", fedora(dssDevmapper, storageDevmap), "overlay2", "devicemapper", "/dev/mapper/atomicos-docker--pool",
			[]string{"demands overlay2"}},
		{"demanded, nothing configured", map[string]string{"usr/lib/systemd/system/docker.service": debianUnit}, "overlay2", "overlay2", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := storageconf.ReadSetup(pathIn(root(t, tc.files)), "docker.service", tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if s.Driver != tc.driver || s.ThinPoolDev != tc.pool {
				t.Errorf("driver %q pool %q, want %q %q (from %s)", s.Driver, s.ThinPoolDev, tc.driver, tc.pool, s.From)
			}
			if len(s.Problems) != len(tc.problems) && !(len(tc.problems) > 0 && len(s.Problems) > 0) {
				t.Fatalf("problems %q, want %q", s.Problems, tc.problems)
			}
			all := strings.Join(s.Problems, " | ")
			for _, p := range tc.problems {
				if !strings.Contains(all, p) {
					t.Errorf("problems %q do not mention %q", all, p)
				}
			}
		})
	}
}

func TestReadSetupBadFiles(t *testing.T) {
	for _, tc := range []struct {
		file, content, err string
	}{
		{"etc/sysconfig/docker-storage", "DOCKER_STORAGE_OPTIONS=\"--storage-driver\n", "/etc/sysconfig/docker-storage: line 1"},
		{"etc/sysconfig/docker-storage-setup", "STORAGE DRIVER=overlay2\n", "/etc/sysconfig/docker-storage-setup: line 1"},
		{"etc/docker/daemon.json", "{storage-driver", "/etc/docker/daemon.json"},
		{"etc/systemd/system/docker.service.d/x.conf", "[Service\n", "docker.service.d/x.conf: line 1"},
	} {
		files := fedora(dssOverlay2, storageOverlay2)
		files[tc.file] = tc.content
		_, err := storageconf.ReadSetup(pathIn(root(t, files)), "docker.service", "")
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want it to name %q", tc.file, err, tc.err)
		}
	}
}

// host is a live host whose files come from dir and whose runtime is
// at socket.
func host(t *testing.T, dir, socket string) *selftest.RunContext {
	cfg := config.Defaults()
	cfg.Runtime.Engine = config.EngineDocker
	cfg.Runtime.Socket = socket
	h := selftest.NewRunContext(selftest.NewHost(dir), cfg)
	// Files from the fixture root, the daemon live: the checks under
	// test only read files through h.Path. systemd runs this "host" and
	// knows no docker-storage-setup.service unless a test says otherwise.
	h.Offline = false
	h.NewSystemd = checktest.NewSystemd(nil).Open
	return h
}

func run(t *testing.T, h *selftest.RunContext, id string) record.Result {
	t.Helper()
	return checktest.ByID(t, h, id, 0)
}

func evidence(res record.Result, name string) string {
	for _, e := range res.Evidence {
		if e.Name == name || strings.HasPrefix(e.Name, name) {
			return e.Seen
		}
	}
	return ""
}

func TestConfigCheck(t *testing.T) {
	h := host(t, root(t, fedora(dssOverlay2, storageOverlay2)), "/nonexistent.sock")
	checktest.Expect(t, run(t, h, "storage.config"), record.StatusPass, "overlay2 (from /etc/sysconfig/docker-storage via /usr/lib/systemd/system/docker.service)")
	h = host(t, root(t, fedora(dssOverlay2, storageDevmap)), "/nonexistent.sock")
	checktest.Expect(t, run(t, h, "storage.config"), record.StatusFail, "STORAGE_DRIVER=overlay2")
	h = host(t, root(t, map[string]string{"etc/sysconfig/docker-storage": "garbage\n", "usr/lib/systemd/system/docker.service": fedoraUnit}), "/nonexistent.sock")
	checktest.Expect(t, run(t, h, "storage.config"), record.StatusFail, "/etc/sysconfig/docker-storage: line 1")
	// No runtime at all: skipped.
	h = host(t, root(t, map[string]string{"etc/hostname": "x\n"}), "/nonexistent.sock")
	checktest.Expect(t, run(t, h, "storage.config"), record.StatusSkip, "no container runtime")
	// Installed, but no systemd to start it and no socket (a build
	// container): skipped.
	h = host(t, root(t, fedora(dssOverlay2, storageOverlay2)), "/nonexistent.sock")
	h.NewSystemd = nil
	if !h.SystemdBooted() {
		checktest.Expect(t, run(t, h, "storage.config"), record.StatusSkip, "systemd, which would start it, is not PID 1")
	}
	// Offline against a sysroot: it runs.
	h = host(t, root(t, fedora(dssDevmapper, storageDevmap)), "/nonexistent.sock")
	h.Offline, h.NewSystemd = true, nil
	checktest.Expect(t, run(t, h, "storage.config"), record.StatusPass, "devicemapper on thin pool /dev/mapper/atomicos-docker--pool")
	h = host(t, root(t, map[string]string{"etc/hostname": "x\n"}), "/nonexistent.sock")
	h.Offline = true
	checktest.Expect(t, run(t, h, "storage.config"), record.StatusSkip, "the unit docker.service is not installed")
}

// TestDriverOverlayReal runs storage.driver against the real daemon
// (overlay2 on the machine's filesystem, d_type tested on its real
// directory).
func TestDriverOverlayReal(t *testing.T) {
	d := dockertest.Shared(t)
	c := d.Client(t)
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Driver != "overlay2" {
		t.Skipf("the shared daemon uses %s", info.Driver)
	}
	h := host(t, root(t, fedora(dssOverlay2, storageOverlay2)), d.Socket)
	res := run(t, h, "storage.driver")
	checktest.Expect(t, res, record.StatusPass, "overlay2 as configured")
	if evidence(res, "d_type on") != "supported" {
		t.Errorf("d_type evidence: %+v", res.Evidence)
	}
	// The files ask for devicemapper: the daemon disagrees.
	h = host(t, root(t, fedora(dssDevmapper, storageDevmap)), d.Socket)
	checktest.Expect(t, run(t, h, "storage.driver"), record.StatusFail, "the daemon uses overlay2, but /etc/sysconfig/docker-storage via /usr/lib/systemd/system/docker.service configures devicemapper")
	// The self-test's configuration demands vfs.
	h = host(t, root(t, map[string]string{"usr/lib/systemd/system/docker.service": debianUnit}), d.Socket)
	h.Config.Storage.Driver = "vfs"
	checktest.Expect(t, run(t, h, "storage.driver"), record.StatusFail, "configures vfs")
}

// TestDriverXFS starts a daemon whose data root is a real XFS (ftype=1)
// on a loop device: overlay2 passes with the ftype read from the
// filesystem.
func TestDriverXFS(t *testing.T) {
	dockertest.Need(t)
	testutil.NeedRoot(t)
	mkfs := testutil.NeedCommand(t, "xfs", "mkfs.xfs")
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "xfs.img"), filepath.Join(dir, "mnt")
	os.Mkdir(mnt, 0o755)
	os.WriteFile(img, nil, 0o600)
	os.Truncate(img, 512<<20)
	if out, err := exec.Command(mkfs, "-q", "-n", "ftype=1", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.xfs: %v %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, mnt).CombinedOutput(); err != nil {
		testutil.Need(t, "xfs", false, "cannot loop-mount XFS: "+strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	d := dockertest.Start(t, dockertest.Options{DataRoot: filepath.Join(mnt, "docker")})
	h := host(t, root(t, fedora(dssOverlay2, storageOverlay2)), d.Socket)
	res := run(t, h, "storage.driver")
	checktest.Expect(t, res, record.StatusPass)
	if evidence(res, "XFS ftype") != "1" || !strings.HasSuffix(evidence(res, "backing filesystem"), "xfs") {
		t.Errorf("evidence %+v", res.Evidence)
	}
}

// devmapperStatus is the storageconf.DriverStatus of a docker 1.13 daemon on a
// docker-storage-setup thin pool, with the keys and order of moby's
// daemon/graphdriver/devmapper/driver.go Status() and go-units HumanSize
// values.
func devmapperStatus(used string, loop bool) [][2]string {
	s := [][2]string{
		{"Pool Name", "atomicos-docker--pool"},
		{"Pool Blocksize", "524.3kB"},
		{"Base Device Size", "10.74GB"},
		{"Backing Filesystem", "xfs"},
		{"Udev Sync Supported", "true"},
	}
	if loop {
		s = append(s, [2]string{"Data loop file", "/var/lib/docker/devicemapper/devicemapper/data"},
			[2]string{"Metadata loop file", "/var/lib/docker/devicemapper/devicemapper/metadata"})
	} else {
		s = append(s, [2]string{"Data file", ""}, [2]string{"Metadata file", ""})
	}
	return append(s, [][2]string{
		{"Data Space Used", used},
		{"Data Space Total", "10.2GB"},
		{"Data Space Available", "8.2GB"},
		{"Metadata Space Used", "1.2MB"},
		{"Metadata Space Total", "29.36MB"},
		{"Metadata Space Available", "28.16MB"},
		{"Thin Pool Minimum Free Space", "1.02GB"},
		{"Deferred Removal Enabled", "true"},
		{"Deferred Deletion Enabled", "true"},
		{"Deferred Deleted Device Count", "0"},
		{"Library Version", "1.02.146-RHEL7 (2018-01-22)"},
	}...)
}

// fakeEngine serves GET /_ping and GET /info of the Engine API on a unix
// socket with a recorded devicemapper answer: no devicemapper daemon can
// run here (the kernel has no device-mapper).
func fakeEngine(t *testing.T, status [][2]string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "engine.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.26")
		w.Write([]byte("OK"))
	})
	mux.HandleFunc("/v1.26/info", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"Driver": "devicemapper", "DriverStatus": status, "DockerRootDir": "/var/lib/docker", "ServerVersion": "1.13.1"})
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// lvsCommander answers `lvs` with a fixture and refuses anything else.
// An out starting with "!" is lvs failing with that standard error.
type lvsCommander struct {
	out  string
	argv []string
}

func (c *lvsCommander) Command(_ context.Context, _ time.Duration, argv ...string) ([]byte, []byte, error) {
	c.argv = argv
	if argv[0] != "lvs" {
		return nil, nil, &selftest.ExitError{Argv: argv, Code: 127}
	}
	if msg, failed := strings.CutPrefix(c.out, "!"); failed {
		return nil, []byte(msg), &selftest.ExitError{Argv: argv, Code: 5, Stderr: msg}
	}
	return []byte(c.out), nil, nil
}

func TestDriverDevmapper(t *testing.T) {
	// The healthy thin pool the storageconf parser's tests read too.
	b, err := os.ReadFile("../../storageconf/testdata/lvs-thinpool.txt")
	if err != nil {
		t.Fatal(err)
	}
	lvsOutput := string(b)
	dssDone := selftest.UnitState{Name: "docker-storage-setup.service", LoadState: "loaded", ActiveState: "inactive", SubState: "dead", Result: "success"}
	dssFailed := dssDone
	dssFailed.ActiveState, dssFailed.SubState, dssFailed.Result = "failed", "failed", "exit-code"
	for _, tc := range []struct {
		name   string
		status [][2]string
		lvs    string
		dss    selftest.UnitState
		result record.Status
		msg    []string
	}{
		// A healthy pool: 12 % data used, LVM agrees it is a thin pool,
		// and the oneshot setup service ended with success (inactive).
		{"healthy", devmapperStatus("1.26GB", false), lvsOutput, dssDone, record.StatusPass, []string{"devicemapper as configured"}},
		{"loopback", devmapperStatus("1.26GB", true), lvsOutput, dssDone, record.StatusFail, []string{"loopback file (Data loop file"}},
		{"full", devmapperStatus("9.8GB", false), lvsOutput, dssDone, record.StatusFail, []string{"data space is 96.1 % used (limit 90 %, [storage] data_percent)"}},
		{"not a pool", devmapperStatus("1.26GB", false), strings.Replace(lvsOutput, "twi-a-t---", "-wi-a-----", 1), dssDone, record.StatusFail, []string{"is not a thin pool"}},
		{"lvm says full", devmapperStatus("1.26GB", false), strings.Replace(lvsOutput, "'3.05'", "'97.50'", 1), dssDone, record.StatusFail, []string{"metadata_percent at 97.5 %"}},
		{"setup failed", devmapperStatus("1.26GB", false), lvsOutput, dssFailed, record.StatusFail, []string{"docker-storage-setup.service ended with Result=exit-code"}},
		{"other pool", append(devmapperStatus("1.26GB", false)[1:], [2]string{"Pool Name", "docker-8:1-1234-pool"}), lvsOutput, dssDone, record.StatusFail, []string{`uses pool "docker-8:1-1234-pool"`}},
		// lvm2's message for a missing storageconf.LV (tools/toollib.c).
		{"unknown to lvm", devmapperStatus("1.26GB", false), "!  Failed to find logical volume \"atomicos/docker-pool\"\n", dssDone, record.StatusFail, []string{`lvs does not know the thin pool atomicos/docker-pool: Failed to find logical volume "atomicos/docker-pool"`}},
		{"no pool device", devmapperStatus("1.26GB", false), lvsOutput, dssDone, record.StatusFail, []string{"/dev/mapper/atomicos-docker--pool named by dm.thinpooldev does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := fedora(dssDevmapper, storageDevmap)
			if tc.name != "no pool device" {
				// The device node, as a plain file in the fixture root.
				files["dev/mapper/atomicos-docker--pool"] = ""
			}
			h := host(t, root(t, files), fakeEngine(t, tc.status))
			cmd := &lvsCommander{out: tc.lvs}
			h.Commands = cmd
			h.NewSystemd = checktest.NewSystemd(map[string]selftest.UnitState{"docker-storage-setup.service": tc.dss}).Open
			checktest.Expect(t, run(t, h, "storage.driver"), tc.result, tc.msg...)
			if tc.name == "healthy" && strings.Join(cmd.argv, " ") != "lvs --noheadings --nameprefixes -o "+storageconf.LvsFields+" atomicos/docker-pool" {
				t.Errorf("lvs argv %q", cmd.argv)
			}
		})
	}
}

// TestWholeRunStalledDaemon runs every storage and runtime check together
// against a daemon that accepts connections and never answers: each one
// that talks to it is reported within the ping bound; with the ping bound
// above the run's bound, the run is cut at its bound; either way the run
// finishes in time.
func TestWholeRunStalledDaemon(t *testing.T) {
	var checks []*selftest.Check
	for _, c := range selftest.Default.All() {
		if strings.HasPrefix(c.ID, "runtime.") || strings.HasPrefix(c.ID, "storage.") {
			checks = append(checks, c)
		}
	}
	if len(checks) != 5 {
		t.Fatalf("%d storage and runtime checks registered, want 5", len(checks))
	}
	h := host(t, root(t, map[string]string{"usr/lib/systemd/system/docker.service": debianUnit}), dockertest.StalledSocket(t))
	h.Config.Runtime.Atomic = "atomic-selftest-no-such-atomic"
	h.Config.Runtime.PingTimeout = config.Duration(time.Second)
	h.NewSystemd = checktest.NewSystemd(map[string]selftest.UnitState{"docker.service": {LoadState: "loaded", ActiveState: "active", SubState: "running", Result: "success"}}).Open

	rec := &record.Record{}
	start := time.Now()
	(&selftest.Runner{RunContext: h, Checks: checks, RunTimeout: time.Minute}).Run(context.Background(), rec)
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("the run took %s with a 1 s ping bound", el)
	}
	want := map[string]record.Status{
		"runtime.run": record.StatusFail, "runtime.service": record.StatusFail, "storage.driver": record.StatusFail,
		"storage.config": record.StatusPass, "runtime.atomic-run": record.StatusSkip,
	}
	for _, r := range rec.Checks {
		if r.Status != want[r.ID] {
			t.Errorf("%s: %s (%s), want %s", r.ID, r.Status, r.Message, want[r.ID])
		}
		if r.Status == record.StatusFail && !strings.Contains(r.Message, "did not answer within 1s") {
			t.Errorf("%s: message %q does not say the daemon did not answer", r.ID, r.Message)
		}
	}

	h.Config.Runtime.PingTimeout = config.Duration(10 * time.Minute)
	rec = &record.Record{}
	start = time.Now()
	(&selftest.Runner{RunContext: h, Checks: checks, RunTimeout: 5 * time.Second}).Run(context.Background(), rec)
	if el := time.Since(start); el > 5*time.Second+5*time.Second {
		t.Errorf("the run bounded at 5 s took %s", el)
	}
	for _, r := range rec.Checks {
		if r.ID == "storage.config" || r.ID == "runtime.atomic-run" {
			continue
		}
		if r.Status != record.StatusFail || !strings.Contains(r.Message, "cut short") {
			t.Errorf("%s: %s (%s), want a failure cut short by the run's bound", r.ID, r.Status, r.Message)
		}
	}
}

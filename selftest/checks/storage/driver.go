package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/system"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/runtimehost"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/storageconf"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "storage.driver",
		Criterion:   "C2",
		Required:    true,
		Description: "the daemon's storage driver (and, for podman, its graph root) is the configured one and its backing store is sound (d_type/ftype for overlay; thin pool, no loopback, free space for devicemapper)",
		Timeout:     60 * time.Second,
		Depends:     []string{"storage.config"},
		Applies:     runtimehost.NeedRuntimeUnit,
		Run:         checkDriver,
	})
}

// checkDriver compares the daemon's storage with the configuration and
// examines the backing store.
func checkDriver(ctx context.Context, t *selftest.T) {
	h := t.RunContext
	e := runtimehost.Engine(h)
	if e.Podman() {
		checkPodmanDriver(ctx, t, e)
		return
	}
	s, err := storageconf.ReadSetup(h.Files(), runtimehost.DockerUnit(h), h.Config.Storage.Driver)
	if err != nil {
		t.Error("%v", err)
		return
	}
	info, ok := daemonInfo(ctx, t, e)
	if !ok {
		return
	}
	var problems []string
	want := s.Driver
	if want == "" {
		t.Evidence("storage driver", "the daemon's default", info.Driver)
	} else {
		t.Evidence("storage driver", want, info.Driver)
		if info.Driver != want {
			problems = append(problems, fmt.Sprintf("the daemon uses %s, but %s configures %s", info.Driver, s.From, want))
		}
	}
	status := storageconf.NewDriverStatus(info.DriverStatus)
	switch info.Driver {
	case "overlay2", "overlay":
		problems = append(problems, checkOverlay(t, info.DockerRootDir, info.Driver, status)...)
	case "devicemapper":
		problems = append(problems, checkDevmapper(ctx, t, s, status)...)
	}
	problems = append(problems, checkSetupUnit(ctx, t)...)
	t.Conclude(problems, "the daemon uses %s as configured, on a sound backing store", info.Driver)
}

// daemonInfo pings the engine and reads its GET /info, recording the
// driver status; false means the verdict is given (an error when the
// socket is misconfigured, a failure when the daemon does not answer).
func daemonInfo(ctx context.Context, t *selftest.T, e dockerprobe.Engine) (system.Info, bool) {
	c := runtimehost.Connect(ctx, t, e)
	if c == nil {
		return system.Info{}, false
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fail("%v", err)
		return system.Info{}, false
	}
	t.Detail("engine", e)
	t.Detail("driver_status", info.DriverStatus)
	return info, true
}

// checkOverlay checks d_type on the daemon's real directory, and ftype
// on XFS; the daemon refuses overlay2 without d_type, and an XFS made
// with ftype=0 is why (docker docs, "Use the OverlayFS storage driver").
func checkOverlay(t *selftest.T, root, driver string, status storageconf.DriverStatus) []string {
	var problems []string
	dir := filepath.Join(root, driver)
	judged := false
	for _, d := range []string{dir, root} {
		ok, j, err := storageconf.SupportsDType(d)
		if err != nil {
			continue
		}
		if j {
			judged = true
			t.Evidence("d_type on "+d, "supported", yesNo(ok, "supported", "not supported"))
			if !ok {
				problems = append(problems, fmt.Sprintf("the filesystem of %s does not support d_type, which %s needs", d, driver))
			}
			dir = d
			break
		}
	}
	if !judged {
		problems = append(problems, fmt.Sprintf("could not read the directory entries of %s or %s to test d_type", dir, root))
		return problems
	}
	if v, ok := status["Supports d_type"]; ok {
		t.Evidence("daemon's Supports d_type", "true", v)
		if v != "true" {
			problems = append(problems, "the daemon reports Supports d_type: "+v)
		}
	}
	fs, err := storageconf.FSType(dir)
	if err == nil {
		t.Evidence("backing filesystem of "+dir, "", fs)
	}
	if fs == "xfs" {
		ftype, err := storageconf.XFSFtype(dir)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		default:
			t.Evidence("XFS ftype", "1", yesNo(ftype, "1", "0"))
			if !ftype {
				problems = append(problems, fmt.Sprintf("%s is on XFS made with ftype=0; %s needs ftype=1 (mkfs.xfs -n ftype=1)", dir, driver))
			}
		}
	}
	return problems
}

// checkDevmapper checks the thin pool: the daemon uses the configured
// one, no loopback files, usage below the thresholds, and (where lvs
// exists) that LVM knows it as a thin pool.
func checkDevmapper(ctx context.Context, t *selftest.T, s *storageconf.Setup, status storageconf.DriverStatus) []string {
	var problems []string
	cfg := t.Config.Storage
	for _, k := range []string{"Data loop file", "Metadata loop file"} {
		if v := status[k]; v != "" {
			t.Evidence(k, "none", v)
			problems = append(problems, fmt.Sprintf("devicemapper uses a loopback file (%s: %s), not a thin pool", k, v))
		}
	}
	for _, k := range []string{"Data file", "Metadata file"} {
		if v := status[k]; strings.HasPrefix(v, "/dev/loop") {
			t.Evidence(k, "not a loop device", v)
			problems = append(problems, fmt.Sprintf("devicemapper's %s is the loop device %s", strings.ToLower(k), v))
		}
	}
	pool := status["Pool Name"]
	if s.ThinPoolDev != "" {
		if !t.Host.Exists(s.ThinPoolDev) {
			t.Evidence("thin pool device "+s.ThinPoolDev, "exists", "missing")
			problems = append(problems, fmt.Sprintf("the thin pool device %s named by dm.thinpooldev does not exist", s.ThinPoolDev))
		}
		want := filepath.Base(s.ThinPoolDev)
		t.Evidence("thin pool", want, pool)
		if pool != want {
			problems = append(problems, fmt.Sprintf("the daemon uses pool %q, but dm.thinpooldev is %s", pool, s.ThinPoolDev))
		}
	}
	for _, what := range []struct {
		name, key string
		limit     float64
	}{{"Data", "data_percent", cfg.DataPercent}, {"Metadata", "metadata_percent", cfg.MetadataPercent}} {
		pct, err := status.UsedPercent(what.name)
		if err != nil {
			problems = append(problems, "reading the daemon's thin pool usage: "+err.Error())
			continue
		}
		t.Evidence(what.name+" space used", fmt.Sprintf("below %g %%", what.limit), fmt.Sprintf("%.1f %% (%s of %s)", pct, status[what.name+" Space Used"], status[what.name+" Space Total"]))
		if pct >= what.limit {
			problems = append(problems, fmt.Sprintf("the thin pool's %s space is %.1f %% used (limit %g %%, [storage] %s)", strings.ToLower(what.name), pct, what.limit, what.key))
		}
	}
	problems = append(problems, checkLvs(ctx, t, pool)...)
	return problems
}

// checkLvs asks LVM about the pool where lvs is installed.
func checkLvs(ctx context.Context, t *selftest.T, pool string) []string {
	vg, lv, ok := storageconf.SplitDMName(pool)
	if !ok {
		t.Evidence("lvs", "", fmt.Sprintf("pool %q is not an LVM device name: not asked", pool))
		return nil
	}
	out, err := t.Host.Run(ctx, 20*time.Second, "lvs", "--noheadings", "--nameprefixes", "-o", storageconf.LvsFields, vg+"/"+lv)
	if err != nil {
		if ee, isExit := err.(*selftest.ExitError); isExit {
			return []string{fmt.Sprintf("lvs does not know the thin pool %s/%s: %s", vg, lv, strings.TrimSpace(ee.Stderr))}
		}
		// lvs not installed, or it could not run: LVM's view is optional.
		t.Evidence("lvs "+vg+"/"+lv, "", "not run: "+err.Error())
		return nil
	}
	lvs, err := storageconf.ParseLvs(string(out))
	if err != nil {
		return []string{err.Error()}
	}
	if len(lvs) != 1 {
		return []string{fmt.Sprintf("lvs %s/%s listed %d volumes, expected 1", vg, lv, len(lvs))}
	}
	l := lvs[0]
	t.Evidence("lvs "+vg+"/"+lv+" lv_attr", "t… (thin pool)", l["lv_attr"])
	var problems []string
	if !l.IsThinPool() {
		problems = append(problems, fmt.Sprintf("%s/%s is not a thin pool (lv_attr %s)", vg, lv, l["lv_attr"]))
	}
	cfg := t.Config.Storage
	for _, f := range []struct {
		field string
		limit float64
	}{{"data_percent", cfg.DataPercent}, {"metadata_percent", cfg.MetadataPercent}} {
		if p, ok := l.Percent(f.field); ok {
			t.Evidence("lvs "+f.field, fmt.Sprintf("below %g", f.limit), fmt.Sprintf("%g", p))
			if p >= f.limit {
				problems = append(problems, fmt.Sprintf("LVM reports %s/%s %s at %g %% (limit %g %%, [storage] %s)", vg, lv, f.field, p, f.limit, f.field))
			}
		}
	}
	return problems
}

// checkSetupUnit: docker-storage-setup.service is a oneshot without
// RemainAfterExit, so "inactive" with Result=success is its good state.
func checkSetupUnit(ctx context.Context, t *selftest.T) []string {
	h := t.RunContext
	unit := h.Config.Storage.SetupUnit
	if !h.HasSystemd() {
		t.Evidence(unit, "", "not asked: systemd is not PID 1")
		return nil
	}
	sd, err := h.Systemd(ctx)
	if err != nil {
		return []string{err.Error()}
	}
	u, err := sd.Unit(ctx, unit)
	if err != nil {
		return []string{err.Error()}
	}
	if u.LoadState == "not-found" || u.LoadState == "" {
		t.Evidence(unit, "", "not installed")
		return nil
	}
	t.Evidence(unit, "Result=success, not failed", fmt.Sprintf("%s/%s Result=%s", u.ActiveState, u.SubState, u.Result))
	if u.ActiveState == "failed" || (u.Result != "" && u.Result != "success") {
		return []string{fmt.Sprintf("%s ended with Result=%s (%s)", unit, u.Result, u.ActiveState)}
	}
	return nil
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// checkPodmanDriver is storage.driver for podman: the API service's
// driver and graph root (GET /info through the compatible API: Driver,
// DockerRootDir) are storage.conf's, and an overlay graph root's file
// system supports d_type.
func checkPodmanDriver(ctx context.Context, t *selftest.T, e dockerprobe.Engine) {
	h := t.RunContext
	sc, err := storageconf.ReadStorageConf(h.Files())
	if err != nil {
		t.Error("%v", err)
		return
	}
	info, ok := daemonInfo(ctx, t, e)
	if !ok {
		return
	}
	var problems []string
	want, from := sc.WantDriver(h.Config.Storage.Driver)
	if want == "" {
		t.Evidence("storage driver", "containers-storage's default", info.Driver)
	} else {
		t.Evidence("storage driver", want, info.Driver)
		if info.Driver != want {
			problems = append(problems, fmt.Sprintf("podman uses %s, but %s configures %s", info.Driver, from, want))
		}
	}
	t.Evidence("graph root", sc.GraphRoot, info.DockerRootDir)
	if info.DockerRootDir != sc.GraphRoot {
		problems = append(problems, fmt.Sprintf("podman stores in %s, but %s sets graphroot %s", info.DockerRootDir, sc.From(), sc.GraphRoot))
	}
	if info.Driver == "overlay" {
		problems = append(problems, checkOverlay(t, info.DockerRootDir, info.Driver, storageconf.NewDriverStatus(info.DriverStatus))...)
	}
	t.Conclude(problems, "podman uses %s in %s as %s configures, on a sound backing store", info.Driver, info.DockerRootDir, sc.From())
}

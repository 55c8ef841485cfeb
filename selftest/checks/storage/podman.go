package storage

import (
	"context"
	"fmt"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
)

// engineOf is the container engine [runtime] engine chose on this host.
func engineOf(h *selftest.RunContext) dockerprobe.Engine {
	return dockerprobe.ChooseEngine(h.Config.Runtime, h.Exists)
}

// wantPodmanDriver is the driver podman must use: [storage] driver where
// set (overlay2 read as overlay, containers-storage's alias), else
// storage.conf's, else "" (the library's choice).
func wantPodmanDriver(h *selftest.RunContext, sc *StorageConf) (string, string) {
	if d := h.Config.Storage.Driver; d != "" {
		if d == "overlay2" {
			d = "overlay"
		}
		return d, "the self-test's [storage] driver"
	}
	return sc.Driver, sc.From()
}

// checkPodmanConfig is storage.config for podman: containers-storage's
// storage.conf is readable TOML, its paths are sound, and its driver is
// the one [storage] driver demands.
func checkPodmanConfig(t *selftest.T) {
	h := t.RunContext
	sc, err := ReadStorageConf(h.Files())
	if err != nil {
		t.Fail("%v", err)
		return
	}
	t.Detail("storage_conf", sc)
	t.Evidence("containers-storage configuration", "", sc.From())
	t.Evidence("[storage] driver", "", orDefault(sc.Driver))
	t.Evidence("[storage] graphroot", "an absolute path", sc.GraphRoot)
	t.Evidence("[storage] runroot", "an absolute path", sc.RunRoot)
	problems := append([]string(nil), sc.Problems...)
	if d := h.Config.Storage.Driver; d != "" {
		want, _ := wantPodmanDriver(h, sc)
		t.Evidence("[storage] driver required by the self-test's configuration", want, orDefault(sc.Driver))
		if sc.Driver != want {
			problems = append(problems, fmt.Sprintf("the self-test's [storage] driver is %s, but %s configures %s", d, sc.From(), orDefault(sc.Driver)))
		}
	}
	if len(problems) > 0 {
		t.Fail("podman's storage configuration is unsound: %s", strings.Join(problems, "; "))
		return
	}
	t.Pass("podman's storage: driver %s, graphroot %s, runroot %s, from %s", orDefault(sc.Driver), sc.GraphRoot, sc.RunRoot, sc.From())
}

// checkPodmanDriver is storage.driver for podman: the API service's
// driver and graph root (GET /info through the compatible API: Driver,
// DockerRootDir) are storage.conf's, and an overlay graph root's file
// system supports d_type.
func checkPodmanDriver(ctx context.Context, t *selftest.T, e dockerprobe.Engine) {
	h := t.RunContext
	sc, err := ReadStorageConf(h.Files())
	if err != nil {
		t.Error("%v", err)
		return
	}
	info, ok := daemonInfo(ctx, t, e)
	if !ok {
		return
	}
	var problems []string
	want, from := wantPodmanDriver(h, sc)
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
		problems = append(problems, checkOverlay(t, info.DockerRootDir, info.Driver, NewDriverStatus(info.DriverStatus))...)
	}
	if len(problems) > 0 {
		t.Fail("%s", strings.Join(problems, "; "))
		return
	}
	t.Pass("podman uses %s in %s as %s configures, on a sound backing store", info.Driver, info.DockerRootDir, sc.From())
}

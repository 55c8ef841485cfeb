package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/runtimehost"
	"github.com/atomic-selftest/atomic-selftest/selftest/storageconf"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "storage.config",
		Criterion:   "C2",
		Required:    true,
		Description: "docker: docker-storage-setup's configuration and output, daemon.json and the runtime unit's command line agree on the storage backend; podman: containers-storage's storage.conf is sound and names the required driver",
		Timeout:     30 * time.Second,
		Offline:     true,
		Applies:     runtimehost.NeedRuntimeUnit,
		Run:         checkConfig,
	})
}

func checkConfig(_ context.Context, t *selftest.T) {
	if e := runtimehost.Engine(t.RunContext); e.Podman() {
		t.Detail("engine", e)
		checkPodmanConfig(t)
		return
	}
	s, err := storageconf.ReadSetup(t.Host.Files(), runtimehost.DockerUnit(t.RunContext), t.Config.Storage.Driver)
	if err != nil {
		// A configuration file that cannot be parsed is the host's
		// problem, reported with the file's name.
		t.Fail("%v", err)
		return
	}
	t.Detail("setup", s)
	evidence := func(name string, f *storageconf.Flags) {
		if f == nil {
			t.Evidence(name, "", "absent")
			return
		}
		seen := "driver " + orDefault(f.Driver)
		if len(f.Opts) > 0 {
			seen += ", options " + strings.Join(f.Opts, " ")
		}
		t.Evidence(name, "", seen)
	}
	if len(s.SetupFrom) > 0 {
		t.Evidence("docker-storage-setup STORAGE_DRIVER", "", fmt.Sprintf("%s (%s)", orDefault(s.SetupDriver), strings.Join(s.SetupFrom, ", ")))
	}
	evidence(storageconf.StorageFile, s.Generated)
	evidence(storageconf.DaemonJSONFile, s.DaemonJSON)
	if s.Unit != "" {
		evidence(s.Unit+" ExecStart", s.UnitFlags)
	}
	t.Evidence("backend that should be in use", "", describe(s))
	if len(s.Problems) > 0 {
		t.Fail("the storage configuration disagrees with itself: %s", strings.Join(s.Problems, "; "))
		return
	}
	t.Pass("storage backend: %s", describe(s))
}

func describe(s *storageconf.Setup) string {
	if s.Driver == "" {
		return "not configured: the daemon chooses its default"
	}
	d := s.Driver
	if s.ThinPoolDev != "" {
		d += " on thin pool " + s.ThinPoolDev
	}
	return d + " (from " + s.From + ")"
}

func orDefault(s string) string {
	if s == "" {
		return "(not set)"
	}
	return s
}

// checkPodmanConfig is storage.config for podman: containers-storage's
// storage.conf is readable TOML, its paths are sound, and its driver is
// the one [storage] driver demands.
func checkPodmanConfig(t *selftest.T) {
	h := t.RunContext
	sc, err := storageconf.ReadStorageConf(h.Files())
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
		want, _ := sc.WantDriver(d)
		t.Evidence("[storage] driver required by the self-test's configuration", want, orDefault(sc.Driver))
		if sc.Driver != want {
			problems = append(problems, fmt.Sprintf("the self-test's [storage] driver is %s, but %s configures %s", d, sc.From(), orDefault(sc.Driver)))
		}
	}
	t.ConcludeWith("podman's storage configuration is unsound: ", problems, "podman's storage: driver %s, graphroot %s, runroot %s, from %s", orDefault(sc.Driver), sc.GraphRoot, sc.RunRoot, sc.From())
}

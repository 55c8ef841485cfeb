package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "storage.config",
		Criterion:   "C2",
		Required:    true,
		Description: "docker: docker-storage-setup's configuration and output, daemon.json and the runtime unit's command line agree on the storage backend; podman: containers-storage's storage.conf is sound and names the required driver",
		Timeout:     30 * time.Second,
		Offline:     true,
		Applies:     installed,
		Run:         checkConfig,
	})
}

func checkConfig(_ context.Context, t *selftest.T) {
	if e := engineOf(t.RunContext); e.Podman() {
		t.Detail("engine", e)
		checkPodmanConfig(t)
		return
	}
	s, err := ReadSetup(t.Host.Files(), unitName(t.RunContext), t.Config.Storage.Driver)
	if err != nil {
		// A configuration file that cannot be parsed is the host's
		// problem, reported with the file's name.
		t.Fail("%v", err)
		return
	}
	t.Detail("setup", s)
	evidence := func(name string, f *Flags) {
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
	evidence(StorageFile, s.Generated)
	evidence(DaemonJSONFile, s.DaemonJSON)
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

func describe(s *Setup) string {
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

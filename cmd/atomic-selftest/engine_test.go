package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/dockertest"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/podmantest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// TestRunEngineFlag: --engine overrides [runtime] engine for one run.
// The configuration says docker (on a socket where nothing listens) and
// points podman_socket at a private podman service; `run --engine podman`
// runs runtime.run against podman, and the record says so and why. A bad
// value is a usage error.
func TestRunEngineFlag(t *testing.T) {
	code, _, stderr := cli(t, "run", "--engine", "rkt", "--no-save")
	if code != ExitUsage || !strings.Contains(stderr, `--engine: "rkt" is not one of auto, docker, podman`) {
		t.Errorf("--engine rkt: exit %d, stderr %q", code, stderr)
	}

	s := podmantest.Start(t)
	cfg := t.TempDir()
	testutil.WriteFile(t, cfg, "10-engine.toml", "[runtime]\nengine = \"docker\"\nsocket = \"/nonexistent/docker.sock\"\npodman_socket = \""+s.Socket+"\"\n")
	code, out, stderr := cli(t, "run", "--engine", "podman", "--config-dir", cfg, "--check", "runtime.run",
		"--no-save", "--report", "no", "--format", "json", "--probe-binary", dockertest.ProbeBinary(t))
	var rec record.Record
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("exit %d, output not a record (%v):\n%s\n%s", code, err, out, stderr)
	}
	var found bool
	for _, r := range rec.Checks {
		if r.ID != "runtime.run" {
			continue
		}
		found = true
		if r.Status != record.StatusPass || !strings.Contains(r.Message, "podman") {
			t.Errorf("runtime.run: %s %q", r.Status, r.Message)
		}
		e, _ := r.Details["engine"].(map[string]any)
		if e["name"] != "podman" || e["why"] != "runtime.engine is podman" {
			t.Errorf("engine detail %v", r.Details["engine"])
		}
	}
	if !found {
		t.Errorf("no runtime.run in %s", out)
	}
}

package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestHealthDefaults: a host that did not opt in only records.
func TestHealthDefaults(t *testing.T) {
	h := Defaults().Health
	if h.OnFailure != "record" || h.RebootAttempts != 1 || h.Tool != HealthToolAuto ||
		!reflect.DeepEqual(h.Transitions, []string{"upgrade", "deploy", "layering"}) || len(h.RollbackCommand) != 0 ||
		h.BootDeadline.D() != 10*time.Minute {
		t.Errorf("defaults: %+v", h)
	}
}

// TestHealthTestbedConfig is the file the VM testbed installs.
func TestHealthTestbedConfig(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, VendorDir), "50-testbed.toml",
		"[health]\non_failure = \"rollback\"\nreboot_attempts = 0\nrollback_command = [\"python3\", \"/usr/libexec/atomic-selftest-testbed/ostree-rollback\"]\n")
	c, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Health
	if h.OnFailure != "rollback" || h.RebootAttempts != 0 || h.Tool != HealthToolAuto ||
		!reflect.DeepEqual(h.RollbackCommand, []string{"python3", "/usr/libexec/atomic-selftest-testbed/ostree-rollback"}) {
		t.Errorf("loaded: %+v", h)
	}
}

func TestHealthInvalid(t *testing.T) {
	for _, tc := range []struct{ toml, want string }{
		{"on_failure = \"reset\"", `health.on_failure: must be one of record, reboot, rollback, got "reset"`},
		{"reboot_attempts = 11", "health.reboot_attempts: must be from 0 to 10, got 11"},
		{"reboot_attempts = -1", "health.reboot_attempts: must be from 0 to 10, got -1"},
		{"transitions = [\"rollback\"]", `health.transitions: "rollback" is never eligible`},
		{"transitions = [\"same\"]", `health.transitions: "same" is never eligible`},
		{"transitions = [\"fallback\"]", `health.transitions: "fallback" is never eligible`},
		{"transitions = [\"upgrayedd\"]", `health.transitions: "upgrayedd" is not a transition kind`},
		{"tool = \"ostree\"", `health.tool: must be one of auto, bootc, rpm-ostree, command, got "ostree"`},
		{"tool = \"command\"", "health.rollback_command: must be set when health.tool is command"},
		{"rollback_command = [\"\"]", "health.rollback_command: the program (first element) must not be empty"},
		{"on_faliure = \"record\"", "unknown key health.on_faliure"},
		{"boot_deadline = \"30s\"", "health.boot_deadline: must be 0 (off) or from 1m0s to 2h0m0s, got 30s"},
		{"boot_deadline = \"3h\"", "health.boot_deadline: must be 0 (off) or from 1m0s to 2h0m0s, got 3h0m0s"},
	} {
		root := t.TempDir()
		write(t, filepath.Join(root, AdminDir), "90-health.toml", "[health]\n"+tc.toml+"\n")
		_, err := Load(root)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "90-health.toml") {
			t.Errorf("%s: got %v, want an error naming the file and %q", tc.toml, err, tc.want)
		}
	}
}

// TestHealthBootDeadline: the testbed's short deadline and "0" (off) load.
func TestHealthBootDeadline(t *testing.T) {
	for _, tc := range []struct {
		toml string
		want time.Duration
	}{{`boot_deadline = "3m"`, 3 * time.Minute}, {`boot_deadline = "0"`, 0}} {
		root := t.TempDir()
		write(t, filepath.Join(root, AdminDir), "90-health.toml", "[health]\n"+tc.toml+"\n")
		c, err := Load(root)
		if err != nil || c.Health.BootDeadline.D() != tc.want {
			t.Errorf("%s: %v, %v; want %s", tc.toml, c, err, tc.want)
		}
	}
}

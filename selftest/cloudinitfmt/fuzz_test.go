package cloudinitfmt

import (
	"os"
	"path/filepath"
	"testing"
)

// seeds adds every fixture file of the given name as a fuzz seed.
func seeds(f *testing.F, pattern string) {
	ms, _ := filepath.Glob(filepath.Join("..", "checks", "cloudinit", "testdata", "*", pattern))
	for _, m := range ms {
		if b, err := os.ReadFile(m); err == nil {
			f.Add(b)
		}
	}
}

// The record parsers never panic, whatever they are given.
func FuzzParseStatus(f *testing.F) {
	seeds(f, "var/lib/cloud/data/status.json")
	f.Add([]byte(`{"v1": {"stage": 3, "init": {"errors": [1, {"a": 2}], "start": "x"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := ParseStatus(b); err == nil && s == nil {
			t.Fatal("nil status without an error")
		}
	})
}

func FuzzParseResult(f *testing.F) {
	seeds(f, "var/lib/cloud/data/result.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseResult(b); err == nil && r == nil {
			t.Fatal("nil result without an error")
		}
	})
}

func FuzzParseInstanceData(f *testing.F) {
	seeds(f, "run/cloud-init/instance-data.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := ParseInstanceData(b); err == nil && d == nil {
			t.Fatal("nil instance data without an error")
		}
	})
}

func FuzzParseCloudConfig(f *testing.F) {
	seeds(f, "var/lib/cloud/instances/*/cloud-config.txt")
	seeds(f, "etc/cloud/cloud.cfg")
	seeds(f, "var/lib/cloud/seed/nocloud/meta-data")
	f.Add([]byte("users: [default, {name: x, ssh-authorized-keys: k}]\nuser: {name: y}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseCloudConfig(b)
		ParseSeedMetaData(b)
	})
}

package cloudinit

import (
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// BenchmarkChecks runs the four cloud-init checks, each through the
// runner, on the 26.2 tree.
func BenchmarkChecks(b *testing.B) {
	h := hostAt(copyTree(b, "cloudinit-26.2"))
	ids := []string{"cloudinit.finished", "cloudinit.sshkey", "cloudinit.hostname", "cloudinit.scripts"}
	b.ReportAllocs()
	for b.Loop() {
		for _, id := range ids {
			if r := run(b, h, id); r.Status != record.StatusPass {
				b.Fatalf("%s: %s %s", id, r.Status, r.Message)
			}
		}
	}
}

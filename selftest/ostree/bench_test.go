package ostree_test

import (
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
)

// BenchmarkLoadThreeDeployments reads a sysroot with three deployments,
// their entries, origins and commits. The target is under 2 ms a load.
func BenchmarkLoadThreeDeployments(b *testing.B) {
	sr := ostreetest.New(b, "fedora-atomic")
	for _, v := range []string{"28.1", "28.2", "28.3"} {
		sr.Commit(branch, v, v)
		sr.Deploy("fedora-atomic", branch)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := ostree.Load(ostree.Options{Root: sr.Dir})
		if err != nil || len(s.Deployments) != 3 || s.Deployments[2].Commit == nil {
			b.Fatalf("%v %+v", err, s)
		}
	}
}

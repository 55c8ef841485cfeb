package syscontainer

import (
	"testing"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// BenchmarkRun is one whole syscontainer.run: the probe image made, copied
// into the store, unpacked, run by runc, verified and removed.
func BenchmarkRun(b *testing.B) {
	testutil.NeedRunc(b)
	h := testHost(b, b.TempDir())
	c := registered(b, "syscontainer.run")
	b.ReportAllocs()
	for b.Loop() {
		if r := runCheck(b, h, c); r.Status != record.StatusPass {
			b.Fatalf("%s: %s", r.Status, r.Message)
		}
	}
}

// BenchmarkRunOstree is BenchmarkRun through an ostree repository.
func BenchmarkRunOstree(b *testing.B) {
	testutil.NeedRunc(b)
	dir := b.TempDir()
	h := testHost(b, dir)
	withOstree(b, h, dir)
	c := registered(b, "syscontainer.run")
	b.ReportAllocs()
	for b.Loop() {
		if r := runCheck(b, h, c); r.Status != record.StatusPass {
			b.Fatalf("%s: %s", r.Status, r.Message)
		}
	}
}

package ostree

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

// hostileCommit is a commit of about n bytes whose metadata holds one a()
// of n-300 elements: every element is one byte of input (a unit tuple),
// and decoding it as a tree costs an interface slot and a boxed slice per
// byte.
func hostileCommit(t testing.TB, n int) []byte {
	units := make([]any, n-300)
	for i := range units {
		units[i] = []any{}
	}
	return commitWithMetadata(t, []any{
		DictEntry{Key: "version", Value: Variant{Type: "s", Value: "28.1"}},
		DictEntry{Key: "x", Value: Variant{Type: "a()", Value: units}},
	})
}

// pkglistCommit is a commit of about n bytes shaped like rpm-ostree's:
// its rpmostree.rpmdb.pkglist is an a(stsss) of name, epoch, version,
// release, arch (rpmostree-rpm-util.c, rpmostree_create_rpmdb_pkglist_variant).
func pkglistCommit(t testing.TB, n int) []byte {
	var pkgs []any
	for size := 0; size < n; size += 48 {
		pkgs = append(pkgs, []any{fmt.Sprintf("package-%d", len(pkgs)), uint64(0), "1.2.3", "4.fc28", "x86_64"})
	}
	return commitWithMetadata(t, []any{
		DictEntry{Key: "rpmostree.rpmdb.pkglist", Value: Variant{Type: "a(stsss)", Value: pkgs}},
		DictEntry{Key: "version", Value: Variant{Type: "s", Value: "28.1"}},
	})
}

// allocated returns the bytes f allocates (TotalAlloc counts what was
// freed again too). No GC is forced: ReadMemStats flushes every P's span
// cache itself (readmemstats_m calls flushallmcaches in the runtime), so
// TotalAlloc is exact without one, and a forced GC per call held
// FuzzDecodeMemory to about 20 inputs a second.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Repro (issue 17 item 3): a 1 MB commit whose metadata holds an a() took
// about 40 MB to decode (a 63 MiB one 2.6 GiB) and parsed. Now the
// decoder refuses it, naming the commit and the limit, before allocating
// its elements: the decode allocates less than the input's size.
func TestHostileCommitMemoryBounded(t *testing.T) {
	data := hostileCommit(t, 1<<20)
	var err error
	got := allocated(func() { _, err = ParseCommit("objects/ab/cd.commit", data) })
	if err == nil || !strings.Contains(err.Error(), "commit objects/ab/cd.commit") || !strings.Contains(err.Error(), "bytes of memory") {
		t.Errorf("err = %v, want a refusal naming the commit and the limit", err)
	}
	if got > uint64(len(data)) {
		t.Errorf("decoding %d bytes allocated %d (%.1fx), want under 1x", len(data), got, float64(got)/float64(len(data)))
	}
	t.Logf("%d bytes: %d allocated, %v", len(data), got, err)
}

// A large legitimate commit (rpm-ostree's package list of 20,000
// packages, 1 MB) still decodes, within the bound.
func TestLargeCommitDecodes(t *testing.T) {
	data := pkglistCommit(t, 1<<20)
	var c *Commit
	var err error
	got := allocated(func() { c, err = ParseCommit("big", data) })
	if err != nil || c.Version() != "28.1" {
		t.Fatalf("%v", err)
	}
	if limit := uint64(len(data))*16 + 64<<10; got > limit {
		t.Errorf("decoding %d bytes allocated %d, more than the bound %d", len(data), got, limit)
	}
	t.Logf("%d bytes: %d allocated (%.1fx)", len(data), got, float64(got)/float64(len(data)))
}

func BenchmarkParseCommit(b *testing.B) {
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"hostile-a()-1MB", hostileCommit(b, 1<<20)},
		{"pkglist-1MB", pkglistCommit(b, 1<<20)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_, _ = ParseCommit("bench", bc.data)
			}
		})
	}
}

// A commit object over the limit for ostree metadata objects (16 MiB) is an error naming the object and the
// limit, and is not read. Repro: the old limit was 64 MiB, so this 17 MiB
// (sparse) commit was read and decoded.
func TestReadCommitSizeLimit(t *testing.T) {
	repo := t.TempDir()
	sum := strings.Repeat("ab", 32)
	path := filepath.Join(repo, "objects", sum[:2], sum[2:]+".commit")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	max := rootfs.Limit(rootfs.Object)
	if max != 16<<20 {
		t.Fatalf("the limit for commit objects is %d, want 16 MiB", max)
	}
	if err := os.Truncate(path, max+1<<20); err != nil {
		t.Fatal(err)
	}
	var err error
	got := allocated(func() { _, err = ReadCommit(rootfs.FS{}, repo, sum) })
	want := fmt.Sprintf("commit object: reading %s: larger than the 16 MiB limit for ostree metadata objects", path)
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if got > 1<<20 {
		t.Errorf("refusing it allocated %d bytes", got)
	}
}

// FuzzDecodeMemory asserts the decoder's memory bound, not only that it
// does not panic: whatever the type and data, a decode allocates at most
// maxExpansion bytes per input byte plus decodeSlack (and a little for
// the error, whose text grows with the nesting depth, and the type string
// given by the caller). It decodes the data both as the fuzzed type and as
// a commit's a{sv} metadata, through toVarDict.
func FuzzDecodeMemory(f *testing.F) {
	f.Add("a{sv}", mustHexF("6b00000000000000050000000075020f"))
	f.Add("a()", make([]byte, 16<<10))
	f.Add("ab", make([]byte, 4096))
	f.Add("av", append(bytes.Repeat([]byte{0, '(', ')'}, 1000), 0))
	f.Add("aas", bytes.Repeat([]byte{0}, 4096))
	f.Add("a((((((((()))))))))", make([]byte, 16<<10))
	f.Add("(a{sv}aya(say)sstayay)", []byte{})
	f.Fuzz(func(t *testing.T, sig string, data []byte) {
		if len(sig) > 256 {
			return
		}
		for _, dec := range []struct {
			sig string
			f   func() error
		}{
			{sig, func() error { _, err := Decode(sig, data); return err }},
			{"a{sv}", func() error { _, err := DecodeVarDict(data); return err }},
		} {
			bound := uint64(len(data))*maxExpansion + decodeSlack + 64<<10 + costTypeChar*uint64(len(dec.sig))
			var err error
			if got := allocated(func() { err = dec.f() }); got > bound {
				t.Fatalf("decode as %q of %d bytes allocated %d, more than %d (err %v)", dec.sig, len(data), got, bound, err)
			}
		}
	})
}

// sink keeps TestAllocatedExact's allocations on the heap.
var sink []*[64]byte

// TestAllocatedExact: without a forced GC, allocated still counts small
// objects whose spans are still cached when f returns (the runtime counts
// them when a span leaves the cache), so FuzzDecodeMemory's bound is
// checked against every byte.
func TestAllocatedExact(t *testing.T) {
	for _, n := range []int{1, 10, 1000} {
		got := allocated(func() {
			sink = make([]*[64]byte, 0, n)
			for range n {
				sink = append(sink, new([64]byte))
			}
		})
		sink = nil
		if want := uint64(n * 64); got < want {
			t.Errorf("%d objects of 64 bytes: allocated saw %d bytes, want at least %d", n, got, want)
		}
	}
}

// BenchmarkFuzzDecodeMemoryInput is the cost of one of the fuzz target's
// measurements, which sets how many inputs a fuzzing minute tries.
func BenchmarkFuzzDecodeMemoryInput(b *testing.B) {
	data := append(bytes.Repeat([]byte{0, '(', ')'}, 300), 0)
	for b.Loop() {
		allocated(func() { _, _ = Decode("av", data) })
	}
}

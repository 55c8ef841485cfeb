package expect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		ex   record.Expectation
		want string
	}{
		{record.Expectation{Version: "28.1"}, ""},
		{record.Expectation{Checksum: "3f2a9c"}, ""},
		{record.Expectation{Packages: []string{"htop"}}, ""},
		{record.Expectation{}, "nothing expected"},
		{record.Expectation{Version: "1", Checksum: "abcd"}, "give one of checksum, version, refspec or image, not 2"},
		{record.Expectation{Image: "quay.io/fedora/fedora-coreos:stable"}, ""},
		{record.Expectation{Image: "ostree-unverified-registry:quay.io/fedora/fedora-coreos@sha256:d12dd2fcb57ecfde0941be604f4dcd43ce0409b86e5ee4e362184c802b80fb84"}, ""},
		{record.Expectation{Image: "quay.io/x:1", Version: "1"}, "give one of checksum, version, refspec or image, not 2"},
		{record.Expectation{Image: "quay.io/x:1@sha256:abc"}, `image "quay.io/x:1@sha256:abc": the digest after @ is not sha256:<64 lowercase hex digits>`},
		{record.Expectation{Image: "quay.io/x 1"}, `image "quay.io/x 1" contains white space`},
		{record.Expectation{Checksum: "3F2A"}, `checksum "3F2A" is not 4 to 64 lowercase hex digits`},
		{record.Expectation{Checksum: "abc"}, "not 4 to 64"},
		{record.Expectation{Refspec: "a b"}, `refspec "a b" contains white space`},
		{record.Expectation{Packages: []string{""}}, `package "" is not a package name`},
		{record.Expectation{Packages: []string{"a"}, AbsentPackages: []string{"a"}}, `package "a" is named as package and as absent-package`},
	} {
		err := Validate(&tc.ex)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.ex, err, tc.want)
		}
	}
}

func TestWriteReadClear(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results")
	ctx := context.Background()
	if ex, err := Read(dir); ex != nil || err != nil {
		t.Fatalf("%v %v", ex, err)
	}
	if err := Write(ctx, dir, record.Expectation{Version: "28.2", Packages: []string{"htop"}}, "boot1", time.Second); err != nil {
		t.Fatal(err)
	}
	ex, err := Read(dir)
	if err != nil || ex.Version != "28.2" || ex.CreatedBootID != "boot1" || time.Since(ex.Created) > time.Minute {
		t.Fatalf("%+v %v", ex, err)
	}
	// An invalid expectation never replaces the pending one.
	if err := Write(ctx, dir, record.Expectation{}, "boot1", time.Second); err == nil {
		t.Fatal("empty expectation written")
	}
	if ex, _ := Read(dir); ex == nil || ex.Version != "28.2" {
		t.Fatalf("pending expectation lost: %+v", ex)
	}
	// While a run holds the lock, writing waits and then gives up.
	unlock, err := (&store.Store{Dir: dir}).Lock(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = Write(ctx, dir, record.Expectation{Version: "28.3"}, "boot1", 200*time.Millisecond)
	unlock()
	if err == nil || !strings.Contains(err.Error(), "lock") {
		t.Fatalf("write under a held lock: %v", err)
	}
	// A garbled file is an error naming it, and --clear removes it.
	os.WriteFile(filepath.Join(dir, store.ExpectFile), []byte("{"), 0o600)
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), store.ExpectFile) {
		t.Fatalf("garbled: %v", err)
	}
	if had, err := Clear(ctx, dir, time.Second); !had || err != nil {
		t.Fatalf("clear: %v %v", had, err)
	}
	if had, err := Clear(ctx, dir, time.Second); had || err != nil {
		t.Fatalf("second clear: %v %v", had, err)
	}
}

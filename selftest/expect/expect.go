// Package expect owns expect.json in the results directory: the
// expectation the outer driver leaves before it reboots a host (booted
// checksum, version, origin refspec or container image; packages that
// must or must not be layered). It is written atomically under the results lock with the id of
// the boot it was left on; the first run on any other boot verifies it in
// deployment.expected, and the session moves it into that run's record and
// removes the file, so a stale expectation never fails a later boot.
package expect

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// Validate checks an expectation before it is written; errors name the
// flag-like field that is wrong.
func Validate(ex *record.Expectation) error {
	ids := 0
	for _, v := range []string{ex.Checksum, ex.Version, ex.Refspec, ex.Image} {
		if v != "" {
			ids++
		}
	}
	if ids > 1 {
		return fmt.Errorf("give one of checksum, version, refspec or image, not %d", ids)
	}
	if ids == 0 && len(ex.Packages) == 0 && len(ex.AbsentPackages) == 0 {
		return fmt.Errorf("nothing expected: give a checksum, version, refspec, image or packages")
	}
	if im := ex.Image; im != "" {
		if strings.ContainsAny(im, " \t\n") {
			return fmt.Errorf("image %q contains white space", im)
		}
		if i := strings.LastIndex(im, "@"); i >= 0 {
			alg, hex, _ := strings.Cut(im[i+1:], ":")
			if alg != "sha256" || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
				return fmt.Errorf("image %q: the digest after @ is not sha256:<64 lowercase hex digits>", im)
			}
		}
	}
	if c := ex.Checksum; c != "" {
		if len(c) < 4 || len(c) > 64 || strings.Trim(c, "0123456789abcdef") != "" {
			return fmt.Errorf("checksum %q is not 4 to 64 lowercase hex digits of a commit checksum", c)
		}
	}
	for _, v := range []struct{ name, val string }{{"version", ex.Version}, {"refspec", ex.Refspec}} {
		if strings.ContainsAny(v.val, " \t\n") {
			return fmt.Errorf("%s %q contains white space", v.name, v.val)
		}
	}
	seen := map[string]string{}
	for _, l := range []struct {
		name string
		pkgs []string
	}{{"package", ex.Packages}, {"absent-package", ex.AbsentPackages}} {
		for _, p := range l.pkgs {
			if p == "" || strings.ContainsAny(p, " \t\n;") {
				return fmt.Errorf("%s %q is not a package name", l.name, p)
			}
			if prev, dup := seen[p]; dup {
				return fmt.Errorf("package %q is named as %s and as %s", p, prev, l.name)
			}
			seen[p] = l.name
		}
	}
	return nil
}

// Write validates ex, stamps it with now and bootID (the boot it is left
// on, which it never applies to) and writes dir/expect.json atomically
// under the results lock, replacing any pending expectation.
func Write(ctx context.Context, dir string, ex record.Expectation, bootID string, lockTimeout time.Duration) error {
	if err := Validate(&ex); err != nil {
		return err
	}
	ex.Created = time.Now().UTC()
	ex.CreatedBootID = bootID
	st, err := store.Open(dir)
	if err != nil {
		return err
	}
	unlock, err := st.Lock(ctx, lockTimeout)
	if err != nil {
		return err
	}
	defer unlock()
	// The rename is durable only once the directory is synced: the driver
	// reboots the host next, and a power cut before the kernel's own
	// writeback would lose the expectation (WriteJSON leaves the sync to
	// its caller).
	if err := st.WriteJSON(store.ExpectFile, ex); err != nil {
		return err
	}
	return st.Sync()
}

// Read returns the pending expectation, or nil when there is none.
func Read(dir string) (*record.Expectation, error) {
	st := &store.Store{Dir: dir}
	var ex record.Expectation
	ok, err := st.ReadJSON(store.ExpectFile, &ex)
	if err != nil || !ok {
		return nil, err
	}
	return &ex, nil
}

// Clear removes the pending expectation under the lock; it reports
// whether there was one.
func Clear(ctx context.Context, dir string, lockTimeout time.Duration) (bool, error) {
	st := &store.Store{Dir: dir}
	unlock, err := st.Lock(ctx, lockTimeout)
	if err != nil {
		return false, err
	}
	defer unlock()
	ex, err := Read(dir)
	if ex == nil && err == nil {
		return false, nil
	}
	// A garbled file is cleared too: that is what --clear is for.
	return true, st.Remove(store.ExpectFile)
}

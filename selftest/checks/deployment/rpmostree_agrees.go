package deployment

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "deployment.rpmostree-agrees",
		Criterion:   "C3",
		Required:    false,
		Description: "rpm-ostree's D-Bus view of the deployments (booted, checksums, order, packages, container image and digest) agrees with the sysroot",
		Timeout:     30 * time.Second,
		Applies:     ostreehost.NeedOstreeBooted,
		Run:         checkRpmOstreeAgrees,
	})
}

// rpm-ostree's D-Bus API (src/daemon/org.projectatomic.rpmostree1.xml in
// coreos/rpm-ostree): the Sysroot object's Deployments property is an
// aa{sv}, one dictionary per deployment in boot order, filled by
// deployment_populate_variant (rust/src/daemon.rs: id, osname, checksum,
// serial, booted, staged, pinned, unlocked) and
// rpmostreed_deployment_generate_variant
// (src/daemon/rpmostreed-deployment-utils.cxx: origin, version, timestamp,
// base-checksum, requested-packages, packages, ...).
const (
	rpmostreeName    = "org.projectatomic.rpmostree1"
	rpmostreeSysroot = dbus.ObjectPath("/org/projectatomic/rpmostree1/Sysroot")
	rpmostreeIface   = "org.projectatomic.rpmostree1.Sysroot"
)

// RpmOstreeDeployments asks rpm-ostree's daemon on the system bus (as
// DBUS_SYSTEM_BUS_ADDRESS names it) for its deployments. present is false
// when the service is neither running nor activatable.
func RpmOstreeDeployments(ctx context.Context) (deps []map[string]dbus.Variant, present bool, err error) {
	conn, err := dbus.SystemBusPrivate(dbus.WithContext(ctx))
	if err != nil {
		return nil, false, fmt.Errorf("connecting to the system bus: %w", err)
	}
	defer conn.Close()
	// godbus's Auth and Hello take no context: closing the connection is
	// what bounds them when the bus does not answer.
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			conn.Close()
		case <-done:
		}
	}()
	if err := conn.Auth(nil); err != nil {
		return nil, false, fmt.Errorf("authenticating to the system bus: %w", err)
	}
	if err := conn.Hello(); err != nil {
		return nil, false, fmt.Errorf("greeting the system bus: %w", err)
	}
	var owned bool
	if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, rpmostreeName).Store(&owned); err != nil {
		return nil, false, fmt.Errorf("asking the bus for %s: %w", rpmostreeName, err)
	}
	if !owned {
		var names []string
		if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.ListActivatableNames", 0).Store(&names); err != nil {
			return nil, false, fmt.Errorf("listing activatable names: %w", err)
		}
		if !slices.Contains(names, rpmostreeName) {
			return nil, false, nil
		}
	}
	var v dbus.Variant
	err = conn.Object(rpmostreeName, rpmostreeSysroot).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, rpmostreeIface, "Deployments").Store(&v)
	if err != nil {
		return nil, true, fmt.Errorf("reading %s.Deployments: %w", rpmostreeIface, err)
	}
	if err := dbus.Store([]any{v.Value()}, &deps); err != nil {
		return nil, true, fmt.Errorf("%s.Deployments has signature %s, not aa{sv}: %w", rpmostreeIface, v.Signature(), err)
	}
	return deps, true, nil
}

func checkRpmOstreeAgrees(ctx context.Context, t *selftest.T) {
	deps, present, err := RpmOstreeDeployments(ctx)
	switch {
	case err != nil && !present:
		t.Skip("rpm-ostree cannot be asked: %v", err)
		return
	case !present:
		t.Skip("rpm-ostree's D-Bus service %s is not on the system bus", rpmostreeName)
		return
	case err != nil:
		t.Fail("rpm-ostree is on the bus but did not answer: %v", err)
		return
	}
	s, err := ostreehost.Load(t.Host)
	if err != nil {
		t.Error("%v", err)
		return
	}
	diffs := Compare(deps, s)
	t.Evidence("deployments", fmt.Sprint(len(s.Deployments)), fmt.Sprint(len(deps)))
	t.ConcludeWith("rpm-ostree disagrees with the sysroot: ", diffs, "rpm-ostree agrees on %d deployments (booted, checksums, order, packages)", len(deps))
}

// Compare lists where rpm-ostree's deployments differ from the sysroot's.
func Compare(deps []map[string]dbus.Variant, s *ot.Sysroot) []string {
	var diffs []string
	if len(deps) != len(s.Deployments) {
		diffs = append(diffs, fmt.Sprintf("rpm-ostree lists %d deployments, the sysroot has %d", len(deps), len(s.Deployments)))
	}
	for i := 0; i < len(deps) && i < len(s.Deployments); i++ {
		m, d := deps[i], s.Deployments[i]
		str := func(k string) string { v, _ := m[k].Value().(string); return v }
		flag := func(k string) bool { v, _ := m[k].Value().(bool); return v }
		serial, _ := m["serial"].Value().(int32)
		check := func(what string, rpm, ours any) {
			if fmt.Sprint(rpm) != fmt.Sprint(ours) {
				diffs = append(diffs, fmt.Sprintf("deployment %d: rpm-ostree says %s %v, the sysroot %v", i, what, rpm, ours))
			}
		}
		check("id", str("id"), d.ID())
		check("checksum", str("checksum"), d.Checksum)
		check("serial", serial, d.Serial)
		check("booted", flag("booted"), d.Booted)
		check("staged", flag("staged"), d.Staged)
		check("pinned", flag("pinned"), d.Pinned())
		// A container-image deployment has no "origin" key but
		// container-image-reference and its manifest digest
		// (rpmostreed_deployment_generate_variant; rpm-ostree's
		// rust/rpmostree-client tests and coreos/rpmostree-client-go's
		// pkg/client/test-fixtures/fcos-container-status.json show the
		// same keys in `rpm-ostree status --json`).
		if _, ok := m["origin"]; ok {
			check("origin", str("origin"), d.Refspec())
		}
		if _, ok := m["container-image-reference"]; ok || d.ImageReference() != "" {
			check("container-image-reference", str("container-image-reference"), d.ImageReference())
		}
		if _, ok := m["container-image-reference-digest"]; ok {
			check("container-image-reference-digest", str("container-image-reference-digest"), d.ImageDigest())
		}
		if v, ok := m["requested-packages"]; ok {
			var req []string
			_ = dbus.Store([]any{v.Value()}, &req)
			var ours []string
			if d.Origin != nil {
				ours = append(ours, d.Origin.RequestedPackages...)
			}
			check("requested packages", sorted(req), sorted(ours))
		}
	}
	return diffs
}

func sorted(l []string) string {
	l = slices.Clone(l)
	sort.Strings(l)
	return "[" + strings.Join(l, " ") + "]"
}

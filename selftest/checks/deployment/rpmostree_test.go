package deployment_test

import (
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"

	"github.com/atomic-selftest/atomic-selftest/internal/testutil"
	"github.com/atomic-selftest/atomic-selftest/selftest/checktest"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/ostree/ostreetest"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// exportRpmOstree owns org.projectatomic.rpmostree1 on the bus and exports
// /org/projectatomic/rpmostree1/Sysroot with a Deployments property of type
// aa{sv}, as rpm-ostree's daemon does (src/daemon/org.projectatomic.rpmostree1.xml,
// keys from deployment_populate_variant in rust/src/daemon.rs and
// rpmostreed_deployment_generate_variant in
// src/daemon/rpmostreed-deployment-utils.cxx, coreos/rpm-ostree 2021-2024).
func exportRpmOstree(t *testing.T, addr string, deps []map[string]dbus.Variant) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	reply, err := conn.RequestName("org.projectatomic.rpmostree1", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning the name: %v %v", reply, err)
	}
	_, err = prop.Export(conn, "/org/projectatomic/rpmostree1/Sysroot", prop.Map{
		"org.projectatomic.rpmostree1.Sysroot": {
			"Deployments": {Value: deps, Emit: prop.EmitFalse},
			"Booted":      {Value: dbus.ObjectPath("/org/projectatomic/rpmostree1/fedora_atomic"), Emit: prop.EmitFalse},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// asRpmOstree builds the Deployments value rpm-ostree would publish for s.
func asRpmOstree(s *ot.Sysroot) []map[string]dbus.Variant {
	var deps []map[string]dbus.Variant
	for _, d := range s.Deployments {
		m := map[string]dbus.Variant{
			"id":                 dbus.MakeVariant(d.ID()),
			"osname":             dbus.MakeVariant(d.OSName),
			"checksum":           dbus.MakeVariant(d.Checksum),
			"serial":             dbus.MakeVariant(int32(d.Serial)),
			"booted":             dbus.MakeVariant(d.Booted),
			"staged":             dbus.MakeVariant(d.Staged),
			"pinned":             dbus.MakeVariant(d.Pinned()),
			"unlocked":           dbus.MakeVariant(d.Unlocked),
			"origin":             dbus.MakeVariant(d.Refspec()),
			"version":            dbus.MakeVariant(d.Version()),
			"timestamp":          dbus.MakeVariant(uint64(d.Commit.Timestamp.Unix())),
			"requested-packages": dbus.MakeVariant(append([]string{}, d.Origin.RequestedPackages...)),
			"packages":           dbus.MakeVariant(append([]string{}, d.Origin.RequestedPackages...)),
		}
		deps = append(deps, m)
	}
	return deps
}

func TestRpmOstreeAgrees(t *testing.T) {
	sr, c2, c1 := ostreetest.TwoDeployments(t)
	sr.WriteOrigin("fedora-atomic", c1, 0, "[origin]\nbaserefspec="+ostreetest.Branch+"\n\n[packages]\nrequested=htop;strace;\n")
	root := sr.BootedRoot("fedora-atomic", c1, 0, false)
	h := ostreetest.LiveHost(root)

	// No rpm-ostree on the bus: skipped with the reason.
	addr := testutil.StartSystemBus(t)
	r, _ := checktest.WithDepends(t, h, "deployment.rpmostree-agrees")
	checktest.Expect(t, r, record.StatusSkip, "org.projectatomic.rpmostree1 is not on the system bus")

	s, err := ot.Load(ot.Options{Root: root, Live: true})
	if err != nil || s.Booted == nil {
		t.Fatalf("%v %v", err, s.Problems)
	}
	deps := asRpmOstree(s)
	// rpm-ostree lists packages in hash order: order must not matter.
	deps[1]["requested-packages"] = dbus.MakeVariant([]string{"strace", "htop"})
	exportRpmOstree(t, addr, deps)
	r, _ = checktest.WithDepends(t, h, "deployment.rpmostree-agrees")
	checktest.Expect(t, r, record.StatusPass, "rpm-ostree agrees on 2 deployments")

	// A second daemon connection cannot take the name; restart the fake
	// with a view that disagrees on order and packages.
	t.Run("disagrees", func(t *testing.T) {
		addr := testutil.StartSystemBus(t)
		bad := asRpmOstree(s)
		bad[0], bad[1] = bad[1], bad[0]
		bad[0]["requested-packages"] = dbus.MakeVariant([]string{"htop"})
		exportRpmOstree(t, addr, bad)
		r, _ := checktest.WithDepends(t, h, "deployment.rpmostree-agrees")
		checktest.Expect(t, r, record.StatusFail, "rpm-ostree disagrees with the sysroot: deployment 0: rpm-ostree says id fedora-atomic-"+c1+".0, the sysroot fedora-atomic-"+c2+".0")
		checktest.Expect(t, r, record.StatusFail, "deployment 0: rpm-ostree says booted true, the sysroot false")
		checktest.Expect(t, r, record.StatusFail, "deployment 0: rpm-ostree says requested packages [htop], the sysroot []")
	})
}

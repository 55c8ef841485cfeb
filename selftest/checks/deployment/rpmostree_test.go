package deployment_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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

// fromStatusJSON turns the deployments of `rpm-ostree status --json` into
// the aa{sv} the daemon publishes: strings, booleans, string lists, serial
// as int32 and timestamp as uint64, as
// rpmostreed_deployment_generate_variant builds them. Nested dictionaries
// (base-commit-meta) are left out: Compare does not read them.
func fromStatusJSON(t *testing.T, data []byte) []map[string]dbus.Variant {
	t.Helper()
	var doc struct {
		Deployments []map[string]any `json:"deployments"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var deps []map[string]dbus.Variant
	for _, d := range doc.Deployments {
		m := map[string]dbus.Variant{}
		for k, v := range d {
			switch v := v.(type) {
			case string:
				m[k] = dbus.MakeVariant(v)
			case bool:
				m[k] = dbus.MakeVariant(v)
			case float64:
				if k == "serial" {
					m[k] = dbus.MakeVariant(int32(v))
				} else {
					m[k] = dbus.MakeVariant(uint64(v))
				}
			case []any:
				l := []string{}
				for _, s := range v {
					str, _ := s.(string)
					l = append(l, str)
				}
				m[k] = dbus.MakeVariant(l)
			}
		}
		deps = append(deps, m)
	}
	return deps
}

// rpm-ostree's own fixture of a Fedora CoreOS host booted from a
// container image (testdata/README.md), fed through the D-Bus stand-in
// against a real sysroot holding that deployment: the container image
// and its digest are compared, and a digest rpm-ostree reports that the
// booted commit does not carry is a failure.
func TestRpmOstreeAgreesContainerImage(t *testing.T) {
	fixture, err := os.ReadFile(filepath.Join("testdata", "rpmostree-coreos-oci-status.json"))
	if err != nil {
		t.Fatal(err)
	}
	const (
		fixtureSum = "41e8b64a8995e7412047dc0436934df69cb7886c73c2476f5743ba752dbb3e98"
		digest     = "sha256:d12dd2fcb57ecfde0941be604f4dcd43ce0409b86e5ee4e362184c802b80fb84"
		image      = "ostree-unverified-registry:quay.io/fedora/fedora-coreos@" + digest
	)
	sr := ostreetest.New(t, "fedora-coreos")
	c := sr.Commit("ostree/container/image/fcos", "41.20241109.3.0", "a", "--add-metadata-string=ostree.manifest-digest="+digest)
	sr.Deploy("fedora-coreos", c)
	sr.WriteOrigin("fedora-coreos", c, 0, "[origin]\ncontainer-image-reference="+image+"\n")
	root := sr.BootedRoot("fedora-coreos", c, 0, false)
	h := ostreetest.LiveHost(root)
	// The fixture's commit cannot be made here: ours stands in for it.
	doc := []byte(strings.ReplaceAll(string(fixture), fixtureSum, c))

	addr := testutil.StartSystemBus(t)
	exportRpmOstree(t, addr, fromStatusJSON(t, doc))
	r, _ := checktest.WithDepends(t, h, "deployment.rpmostree-agrees")
	checktest.Expect(t, r, record.StatusPass, "rpm-ostree agrees on 1 deployments")

	t.Run("other digest", func(t *testing.T) {
		addr := testutil.StartSystemBus(t)
		other := "sha256:" + strings.Repeat("0", 64)
		exportRpmOstree(t, addr, fromStatusJSON(t, []byte(strings.Replace(string(doc), `"container-image-reference-digest" : "`+digest, `"container-image-reference-digest" : "`+other, 1))))
		r, _ := checktest.WithDepends(t, h, "deployment.rpmostree-agrees")
		checktest.Expect(t, r, record.StatusFail, "deployment 0: rpm-ostree says container-image-reference-digest "+other+", the sysroot "+digest)
	})
	t.Run("other image", func(t *testing.T) {
		addr := testutil.StartSystemBus(t)
		exportRpmOstree(t, addr, fromStatusJSON(t, []byte(strings.Replace(string(doc), "quay.io/fedora/fedora-coreos@", "quay.io/fedora/fedora-coreos:stable@", 1))))
		r, _ := checktest.WithDepends(t, h, "deployment.rpmostree-agrees")
		checktest.Expect(t, r, record.StatusFail, "deployment 0: rpm-ostree says container-image-reference ostree-unverified-registry:quay.io/fedora/fedora-coreos:stable@")
	})
}

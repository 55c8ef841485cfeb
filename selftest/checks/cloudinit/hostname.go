package cloudinit

import (
	"context"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/cloudinithost"
	"github.com/atomic-selftest/atomic-selftest/selftest/cloudinitfmt"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "cloudinit.hostname",
		Criterion:   "C7",
		Required:    true,
		Description: "the running host name is the one the user-data or the datasource asked for",
		Timeout:     30 * time.Second,
		Applies:     cloudinithost.NeedCloudInit,
		Run:         checkHostname,
		// Not Offline: the running host name cannot be read from an image.
	})
}

// requestedHostname returns the host name and FQDN cloud-init was asked
// to set and where that was read, following cloud-init's
// util.get_hostname_fqdn: the user-data's fqdn, then its hostname, then
// the datasource's local-hostname. It returns "" when nothing was asked.
func requestedHostname(r cloudinithost.Tree, cc *cloudinitfmt.CloudConfig) (host, fqdn, from string, err error) {
	split := func(n string) (string, string) {
		if i := strings.IndexByte(n, '.'); i > 0 {
			return n[:i], n
		}
		return n, ""
	}
	ccPath := cloudinithost.InstanceDir + "/cloud-config.txt"
	switch {
	case cc != nil && cc.FQDN != "":
		host, fqdn = split(cc.FQDN)
		if cc.Hostname != "" {
			host = cc.Hostname
		}
		return host, fqdn, ccPath + " fqdn", nil
	case cc != nil && cc.Hostname != "":
		host, fqdn = split(cc.Hostname)
		return host, fqdn, ccPath + " hostname", nil
	}
	id, err := r.InstanceData()
	if err != nil {
		return "", "", "", err
	}
	if id != nil && id.LocalHostname != "" {
		host, fqdn = split(id.LocalHostname)
		return host, fqdn, cloudinithost.RunDir + "/instance-data.json v1.local_hostname", nil
	}
	seed, seedPath, err := r.SeedMetaData()
	if err != nil {
		return "", "", "", err
	}
	if seed != nil && seed.LocalHostname != "" {
		host, fqdn = split(seed.LocalHostname)
		return host, fqdn, seedPath + " local-hostname", nil
	}
	return "", "", "", nil
}

func checkHostname(_ context.Context, t *selftest.T) {
	r := cloudinithost.Tree{H: t.Host}
	cc, err := r.CloudConfig()
	if err != nil {
		t.Fail("%v", err)
		return
	}
	if cc != nil && cc.PreserveHostname {
		t.Skip("preserve_hostname is set in the user-data: cloud-init leaves the host name alone")
		return
	}
	host, fqdn, from, err := requestedHostname(r, cc)
	if err != nil {
		t.Fail("%v", err)
		return
	}
	if host == "" {
		t.Skip("no host name was requested (no hostname or fqdn in the user-data, no local-hostname from the datasource)")
		return
	}
	b, err := t.Host.ReadFile("/proc/sys/kernel/hostname", rootfs.Kernel)
	if err != nil {
		t.Error("reading the running host name: %v", err)
		return
	}
	running := strings.TrimSpace(string(b))
	// Distributions differ in which they set: Fedora's (rhel.py) prefers
	// the FQDN, Debian's the short name; either satisfies the request.
	want := host
	if fqdn != "" {
		want = host + " or " + fqdn
	}
	t.Evidence("host name", want+" (from "+from+")", running)
	if running == host || (fqdn != "" && running == fqdn) {
		t.Pass("the host name is %s, as %s asked", running, from)
		return
	}
	t.Fail("the running host name is %q, but %s asked for %q", running, from, want)
}

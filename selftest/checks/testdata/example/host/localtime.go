package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.localtime",
		Criterion:   "C1",
		Required:    false,
		Description: "/etc/localtime, where it is set, is a time zone file (TZif) the tree carries",
		Timeout:     10 * time.Second,
		Offline:     true,
		Run:         checkLocaltime,
	})
}

// checkLocaltime reads /etc/localtime through the host's file door: its
// link is resolved inside the root, so under --sysroot the zone file is
// the image's, never the running system's.
func checkLocaltime(_ context.Context, t *selftest.T) {
	const p = "/etc/localtime"
	if _, err := t.Host.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		t.Pass("%s is not set: the host keeps UTC (localtime(5))", p)
		return
	}
	if target, err := t.Host.Readlink(p); err == nil {
		t.Evidence(p+" links to", "", target)
	}
	b, err := t.Host.ReadFile(p, rootfs.Config)
	if err != nil {
		t.Fail("%s is set, but cannot be read: %v", p, err)
		return
	}
	t.Evidence(p, "a TZif file (tzfile(5))", fmt.Sprintf("%d bytes, starting %q", len(b), b[:min(4, len(b))]))
	if !bytes.HasPrefix(b, []byte("TZif")) {
		t.Fail("%s is not a time zone file: it does not start with TZif (tzfile(5))", p)
		return
	}
	t.Pass("%s is a time zone file", p)
}

package host

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "host.tmp",
		Criterion:   "C1",
		Required:    false,
		Description: "/tmp and /var/tmp are sticky world-writable directories (mode 1777)",
		Timeout:     10 * time.Second,
		Offline:     true,
		Run:         checkTmp,
	})
}

// checkTmp stats both directories through the host's file door: under
// --sysroot they are the image's, never the running system's.
func checkTmp(_ context.Context, t *selftest.T) {
	var problems []string
	for _, dir := range []string{"/tmp", "/var/tmp"} {
		fi, err := t.Host.Stat(dir)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		t.Evidence(dir, "a directory, mode 1777", fi.Mode().String())
		if !fi.IsDir() || fi.Mode().Perm() != 0o777 || fi.Mode()&fs.ModeSticky == 0 {
			problems = append(problems, fmt.Sprintf("%s is %s, not a sticky world-writable directory (1777)", dir, fi.Mode()))
		}
	}
	t.Conclude(problems, "/tmp and /var/tmp are sticky world-writable directories")
}

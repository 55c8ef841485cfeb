// Package rpmhost asks the host's rpm database whether a package is
// installed, for the checks that judge packages (deployment.expected,
// site.policy).
package rpmhost

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

// Answer is what the rpm database said of a package.
type Answer int

// Answers: Unknown where rpm is absent or broke.
const (
	Unknown Answer = iota
	Yes
	No
)

// Query returns a function asking the rpm database about one package
// with `rpm -q` ([deployment] rpm_dbpath names the database); without
// rpm on the host the answer is Unknown. The string says what rpm said.
func Query(ctx context.Context, t *selftest.T) func(string) (Answer, string) {
	if _, err := exec.LookPath("rpm"); err != nil {
		return func(string) (Answer, string) { return Unknown, "not asked (no rpm on this host)" }
	}
	return func(p string) (Answer, string) {
		argv := []string{"rpm", "-q"}
		if db := t.Config.Deployment.RPMDBPath; db != "" {
			// outside the door: rpm takes a path: the root-prefixed one.
			argv = append(argv, "--dbpath", t.Host.Path(db))
		}
		out, err := t.Host.Run(ctx, 30*time.Second, append(argv, "--", p)...)
		var ee *selftest.ExitError
		switch {
		case err == nil:
			return Yes, strings.TrimSpace(string(out))
		case errors.As(err, &ee) && ee.Code == 1:
			return No, "not installed"
		}
		return Unknown, "rpm -q failed: " + err.Error()
	}
}

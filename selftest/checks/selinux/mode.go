package selinux

import (
	"context"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/selinuxhost"
	"github.com/atomic-selftest/atomic-selftest/selftest/selinuxfmt"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "selinux.mode",
		Criterion:   "HOST",
		Required:    true,
		Description: "SELinux runs in the mode /etc/selinux/config (or the kernel command line) sets: a release must not come up permissive or disabled",
		Timeout:     10 * time.Second,
		Applies:     selinuxhost.NeedConfigured,
		Run:         checkMode,
	})
}

// checkMode compares /sys/fs/selinux/enforce with the mode the host asked
// for: SELINUX= of /etc/selinux/config, unless the kernel command line
// says otherwise (selinux=0, enforcing=0 or 1 win over the file).
func checkMode(_ context.Context, t *selftest.T) {
	st, err := selinuxhost.Read(t.Host)
	if err != nil {
		t.Error("%v", err)
		return
	}
	if st.Config == nil {
		t.Fail("SELinux runs %s, but %s is missing: the host's mode is not configured", st.Running, selinuxhost.ConfigPath)
		return
	}
	want, why := st.Config.Mode, selinuxhost.ConfigPath+" SELINUX="+st.Config.Mode
	switch st.Cmdline {
	case "selinux=0":
		want = selinuxfmt.Disabled
	case "enforcing=0":
		if want != selinuxfmt.Disabled {
			want = selinuxfmt.Permissive
		}
	case "enforcing=1":
		if want != selinuxfmt.Disabled {
			want = selinuxfmt.Enforcing
		}
	}
	if st.Cmdline != "" {
		why += ", kernel command line " + st.Cmdline
	}
	t.Evidence("SELinux mode", want+" ("+why+")", st.Running+" ("+selinuxhost.EnforcePath+")")
	if st.Running != want {
		t.Fail("SELinux runs %s, but %s asks for %s", st.Running, why, want)
		return
	}
	t.Pass("SELinux runs %s as %s asks (policy %s)", st.Running, why, st.Config.Type)
}

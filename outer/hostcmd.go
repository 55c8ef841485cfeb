package outer

// Running commands on a host and reading its deployments.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/ssh"
	"github.com/atomic-selftest/atomic-selftest/selftest/bootc"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// run runs argv on the host and turns a non-zero exit into an error that
// quotes the command's last words.
func (h *hostRun) run(ctx context.Context, timeout time.Duration, argv ...string) ([]byte, error) {
	res, err := h.m.Run(ctx, timeout, argv...)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		msg := lastLine(res.Stderr)
		if msg == "" {
			msg = lastLine(res.Stdout)
		}
		return nil, fmt.Errorf("`%s` exited %d: %s", displayArgv(argv), res.ExitCode, msg)
	}
	return res.Stdout, nil
}

func displayArgv(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if len(a) > 40 {
			a = a[:37] + "..."
		}
		out[i] = a
	}
	s, _ := ssh.QuoteArgv(out)
	return s
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// status reads the host's deployments with the plan's family's command.
// The auto profile's baseline reads them with the command of the plan
// chosen for the host.
func (h *hostRun) status(ctx context.Context) (*Status, []byte, error) {
	if h.plan.Family == "bootc" {
		out, err := h.run(ctx, time.Minute, bootc.StatusArgv...)
		if err != nil {
			return nil, nil, err
		}
		st, err := ParseBootcStatus(out)
		return st, out, err
	}
	// A host without rpm-ostree is read with ostree itself, so that the
	// baseline's collection works on any OSTree host.
	if h.plan.Family == "ostree" || h.pre != nil && !h.pre.Has("rpm-ostree") && h.pre.Has("ostree") {
		out, err := h.run(ctx, time.Minute, "ostree", "admin", "status")
		if err != nil {
			return nil, nil, err
		}
		st, err := ParseOstreeAdminStatus(out)
		return st, out, err
	}
	out, err := h.run(ctx, time.Minute, "rpm-ostree", "status", "--json")
	if err != nil {
		return nil, nil, err
	}
	st, err := ParseRpmOstreeStatus(out)
	return st, out, err
}

func (h *hostRun) booted(ctx context.Context) (*Status, *record.Deployment, error) {
	st, _, err := h.status(ctx)
	if err != nil {
		return nil, nil, err
	}
	b := st.Booted()
	if b == nil {
		return nil, nil, errors.New("the host's status shows no booted deployment")
	}
	return st, b, nil
}

package outer

// Waiting for the self-test's run record of a boot.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/transport"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// waitSelftest waits for the run record of the current boot written by
// atomic-selftest.service, reading each candidate file once.
func (h *hostRun) waitSelftest(ctx context.Context, bound time.Duration) (*record.Record, error) {
	if h.bootID == "" {
		id, err := h.m.BootID(ctx)
		if err != nil {
			return nil, err
		}
		h.bootID = id
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	seen := map[string]bool{}
	var delay time.Duration
	pattern := "run-*-" + short(h.bootID) + ".json"
	for {
		out, err := h.run(ctx, time.Minute, "find", h.opts.ResultsDir, "-maxdepth", "1", "-name", pattern)
		if err != nil {
			if errors.Is(err, transport.ErrConnection) || ctx.Err() != nil {
				return nil, h.waitErr(ctx, err, bound)
			}
			// The results directory may not exist before the first run.
		}
		names := strings.Fields(string(out))
		sort.Sort(sort.Reverse(sort.StringSlice(names))) // newest first: names begin with the time
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			data, err := h.m.ReadFile(ctx, n, transport.Limits.Record)
			if err != nil {
				return nil, h.waitErr(ctx, err, bound)
			}
			rec, err := store.DecodeRecord(data)
			if err != nil {
				return nil, fmt.Errorf("run record %s: %w", n, err)
			}
			if rec.BootID == h.bootID && rec.Trigger == record.TriggerBoot {
				return rec, nil
			}
		}
		if res, err := h.m.Run(ctx, time.Minute, "systemctl", "show", "-p", "ActiveState", "--value", "atomic-selftest.service"); err == nil &&
			strings.TrimSpace(string(res.Stdout)) == "failed" && len(names) == 0 {
			return nil, fmt.Errorf("atomic-selftest.service failed on boot %s without writing a run record (see the journal)", short(h.bootID))
		}
		delay = h.opts.Poll.next(delay)
		if err := sleep(ctx, delay); err != nil {
			return nil, h.waitErr(ctx, err, bound)
		}
	}
}

func (h *hostRun) waitErr(ctx context.Context, err error, bound time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no run record of boot %s from atomic-selftest.service within %s", short(h.bootID), bound)
	}
	return err
}

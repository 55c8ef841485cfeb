package outer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atomic-selftest/atomic-selftest/outer/transport"
)

// Backoff is the polling schedule while waiting for a host: Min first,
// doubling up to Max.
type Backoff struct {
	Min, Max time.Duration
}

func (b Backoff) next(d time.Duration) time.Duration {
	if d <= 0 {
		if b.Min <= 0 {
			return 250 * time.Millisecond
		}
		return b.Min
	}
	d *= 2
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrUnreachable marks a host that did not answer (or come back) within
// its bound; the driver does not try its remaining steps.
var ErrUnreachable = errors.New("host unreachable")

// WaitUp polls the host's boot id until it answers with one different
// from notID ("" accepts any) or bound passes. Connection failures,
// handshake failures and resets count as "still rebooting"; a host key
// mismatch ends the wait at once.
func WaitUp(ctx context.Context, m transport.Machine, notID string, bound time.Duration, b Backoff) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var delay time.Duration
	var last error
	for {
		id, err := m.BootID(ctx)
		var hk *transport.HostKeyError
		switch {
		case errors.As(err, &hk):
			return "", err
		case err == nil && id != notID:
			return id, nil
		case err == nil:
			last = fmt.Errorf("boot id is still %s", notID)
		default:
			last = err
		}
		delay = b.next(delay)
		if serr := sleep(ctx, delay); serr != nil {
			if errors.Is(serr, context.DeadlineExceeded) {
				what := "answer"
				if notID != "" {
					what = "come back with a new boot id"
				}
				return "", fmt.Errorf("%w: %s did not %s within %s (last: %v)", ErrUnreachable, m.Name(), what, bound, last)
			}
			return "", serr
		}
	}
}

// RebootAndWait reads the boot id, reboots, and waits for a different one
// within bound. It returns the new boot id.
func RebootAndWait(ctx context.Context, m transport.Machine, before string, bound time.Duration, b Backoff) (string, error) {
	if before == "" {
		id, err := m.BootID(ctx)
		if err != nil {
			return "", fmt.Errorf("reading the boot id before rebooting: %w", err)
		}
		before = id
	}
	if err := m.Reboot(ctx); err != nil {
		return "", fmt.Errorf("rebooting %s: %w", m.Name(), err)
	}
	return WaitUp(ctx, m, before, bound, b)
}

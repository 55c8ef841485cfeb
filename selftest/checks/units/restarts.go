package units

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "units.restarts",
		Criterion:   "HOST",
		Required:    false,
		Description: "no service restarted more than [units] max_restarts times this boot (NRestarts), host-wide",
		Timeout:     90 * time.Second,
		Applies:     selftest.NeedSystemd,
		Run:         checkRestarts,
	})
}

// checkRestarts reads NRestarts, systemd's count of a service's automatic
// restarts (Restart=) since it was loaded, of every loaded service. A
// service past the threshold is restart-looping, whether it is up at this
// moment, waiting to restart, or failed after its start limit.
func checkRestarts(ctx context.Context, t *selftest.T) {
	sd, err := t.Host.Systemd(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	all, err := sd.ListUnits(ctx)
	if err != nil {
		t.Error("%v", err)
		return
	}
	limit := t.Config.Units.MaxRestarts
	var problems []string
	restarted := map[string]uint32{}
	services := 0
	// The skip of the self-test's own units (ignored) is settled.go's;
	// its services never restart (Type=oneshot, no Restart=).
	for _, u := range all {
		if !strings.HasSuffix(u.Name, ".service") || u.LoadState != "loaded" || ignored(t, u.Name) {
			continue
		}
		services++
		full, err := sd.Unit(ctx, u.Name)
		if err != nil {
			t.Error("%v", err)
			return
		}
		if full.NRestarts == 0 {
			continue
		}
		restarted[u.Name] = full.NRestarts
		if int64(full.NRestarts) > int64(limit) {
			t.Evidence(u.Name+" NRestarts", "at most "+strconv.Itoa(limit), fmt.Sprintf("%d (%s/%s, result %s)", full.NRestarts, full.ActiveState, full.SubState, full.Result))
			problems = append(problems, fmt.Sprintf("%s restarted %d times this boot (now %s/%s)", u.Name, full.NRestarts, full.ActiveState, full.SubState))
		}
	}
	if len(restarted) > 0 {
		t.Detail("restarts", restarted)
	}
	t.ConcludeWith(fmt.Sprintf("restart loop (units.max_restarts %d): ", limit), problems,
		"no service of %d restarted more than %d times this boot (units.max_restarts); %d restarted at all", services, limit, len(restarted))
}

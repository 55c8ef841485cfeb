package selftest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

// Systemd is the part of systemd's D-Bus API (org.freedesktop.systemd1(5))
// that checks use. Implementations must be safe for concurrent use.
type Systemd interface {
	// Unit returns the state of a unit by name ("docker.service"). A unit
	// systemd does not know has LoadState "not-found", not an error.
	Unit(ctx context.Context, name string) (UnitState, error)
	// FailedUnits returns the names of units whose ActiveState is "failed",
	// sorted.
	FailedUnits(ctx context.Context) ([]string, error)
	// ListUnits returns every unit systemd has loaded (its ListUnits
	// method) with its name, load, active and sub state only, sorted by
	// name; Unit gives the rest of one.
	ListUnits(ctx context.Context) ([]UnitState, error)
	// Manager returns the manager's state and boot timestamps.
	Manager(ctx context.Context) (record.ManagerState, error)
	// Jobs returns systemd's queued and running jobs (ListJobs), each
	// with its unit's After= and how long it has been at it, ordered by
	// job id; WaitingFor is left to Waiting, which sees the whole list.
	Jobs(ctx context.Context) ([]record.Job, error)
	// Close releases the connection.
	Close()
}

// UnitState is what systemd reports about one unit.
type UnitState struct {
	Name        string `json:"name"`
	LoadState   string `json:"load_state"`
	ActiveState string `json:"active_state"`
	SubState    string `json:"sub_state"`
	// Result, NRestarts and ExecMainStatus are set for services only.
	Result         string `json:"result,omitempty"`
	NRestarts      uint32 `json:"n_restarts"`
	ExecMainStatus int32  `json:"exec_main_status"`
	// ActiveEnter is when the unit last became active (zero if never),
	// and ActiveEnterUsec the same on the monotonic clock.
	ActiveEnter     time.Time `json:"active_enter,omitempty"`
	ActiveEnterUsec uint64    `json:"active_enter_usec,omitempty"`
	// UnitFileState is whether the unit file is enabled ("enabled",
	// "disabled", "static", "masked", ...; empty when unknown).
	UnitFileState string `json:"unit_file_state,omitempty"`
	// InactiveExitUsec is when the unit last left "inactive" (began
	// activating), on the monotonic clock; zero if never.
	InactiveExitUsec uint64 `json:"inactive_exit_usec,omitempty"`
}

type dbusSystemd struct {
	conn *sddbus.Conn
	bus  *godbus.Conn // the first of conn's two connections, for manager properties
}

// openDBusSystemd connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS is
// honoured, which the tests use to point at a private bus).
func openDBusSystemd(ctx context.Context) (Systemd, error) {
	s := &dbusSystemd{}
	conn, err := sddbus.NewConnection(func() (*godbus.Conn, error) {
		c, err := godbus.SystemBusPrivate(godbus.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		if err := c.Auth(nil); err != nil {
			c.Close()
			return nil, err
		}
		if err := c.Hello(); err != nil {
			c.Close()
			return nil, err
		}
		if s.bus == nil {
			s.bus = c
		}
		return c, nil
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to systemd on the system bus: %w", err)
	}
	s.conn = conn
	return s, nil
}

func (s *dbusSystemd) Close() { s.conn.Close() }

func (s *dbusSystemd) Unit(ctx context.Context, name string) (UnitState, error) {
	props, err := s.conn.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return UnitState{}, fmt.Errorf("reading unit %s: %w", name, err)
	}
	u := UnitState{
		Name:        name,
		LoadState:   str(props["LoadState"]),
		ActiveState: str(props["ActiveState"]),
		SubState:    str(props["SubState"]),
		// UnitFileState is a property of every unit (org.freedesktop.systemd1(5)).
		UnitFileState: str(props["UnitFileState"]),
	}
	if us, ok := props["ActiveEnterTimestamp"].(uint64); ok && us != 0 {
		u.ActiveEnter = time.UnixMicro(int64(us)).UTC()
	}
	if us, ok := props["ActiveEnterTimestampMonotonic"].(uint64); ok {
		u.ActiveEnterUsec = us
	}
	if us, ok := props["InactiveExitTimestampMonotonic"].(uint64); ok {
		u.InactiveExitUsec = us
	}
	if strings.HasSuffix(name, ".service") && u.LoadState == "loaded" {
		sp, err := s.conn.GetUnitTypePropertiesContext(ctx, name, "Service")
		if err != nil {
			return u, fmt.Errorf("reading service properties of %s: %w", name, err)
		}
		u.Result = str(sp["Result"])
		if n, ok := sp["NRestarts"].(uint32); ok {
			u.NRestarts = n
		}
		if n, ok := sp["ExecMainStatus"].(int32); ok {
			u.ExecMainStatus = n
		}
	}
	return u, nil
}

func (s *dbusSystemd) FailedUnits(ctx context.Context) ([]string, error) {
	units, err := s.conn.ListUnitsFilteredContext(ctx, []string{"failed"})
	if err != nil {
		return nil, fmt.Errorf("listing failed units: %w", err)
	}
	names := make([]string, 0, len(units))
	for _, u := range units {
		names = append(names, u.Name)
	}
	sort.Strings(names)
	return names, nil
}

func (s *dbusSystemd) ListUnits(ctx context.Context) ([]UnitState, error) {
	units, err := s.conn.ListUnitsContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing units: %w", err)
	}
	out := make([]UnitState, 0, len(units))
	for _, u := range units {
		out = append(out, UnitState{Name: u.Name, LoadState: u.LoadState, ActiveState: u.ActiveState, SubState: u.SubState})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *dbusSystemd) Manager(ctx context.Context) (record.ManagerState, error) {
	obj := s.bus.Object("org.freedesktop.systemd1", "/org/freedesktop/systemd1")
	var props map[string]godbus.Variant
	err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.GetAll", 0,
		"org.freedesktop.systemd1.Manager").Store(&props)
	if err != nil {
		return record.ManagerState{}, fmt.Errorf("reading systemd manager properties: %w", err)
	}
	var target string
	// GetDefaultTarget is a method, not a property (org.freedesktop.systemd1(5)).
	if err := obj.CallWithContext(ctx, "org.freedesktop.systemd1.Manager.GetDefaultTarget", 0).Store(&target); err != nil {
		target = ""
	}
	u64 := func(k string) uint64 {
		v, _ := props[k].Value().(uint64)
		return v
	}
	return record.ManagerState{
		SystemState:    str(props["SystemState"].Value()),
		Virtualization: str(props["Virtualization"].Value()),
		DefaultTarget:  target,
		FirmwareUsec:   u64("FirmwareTimestampMonotonic"),
		LoaderUsec:     u64("LoaderTimestampMonotonic"),
		KernelUsec:     u64("KernelTimestampMonotonic"),
		InitRDUsec:     u64("InitRDTimestampMonotonic"),
		UserspaceUsec:  u64("UserspaceTimestampMonotonic"),
		FinishUsec:     u64("FinishTimestampMonotonic"),
	}, nil
}

// maxJobs bounds the jobs read and recorded: a boot's initial
// transaction has a few hundred at most, and the first ones queued are
// the ones that hold the rest.
const maxJobs = 256

func (s *dbusSystemd) Jobs(ctx context.Context) ([]record.Job, error) {
	js, err := s.conn.ListJobsContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing systemd's jobs: %w", err)
	}
	sort.Slice(js, func(i, j int) bool { return js[i].Id < js[j].Id })
	if len(js) > maxJobs {
		js = js[:maxJobs]
	}
	now := monotonicUsec()
	out := make([]record.Job, 0, len(js))
	for _, j := range js {
		job := record.Job{ID: j.Id, Unit: j.Unit, Type: j.JobType, State: j.Status}
		props, err := s.conn.GetUnitPropertiesContext(ctx, j.Unit)
		if err != nil {
			// The job may have finished since ListJobs: keep what the
			// list said.
			out = append(out, job)
			continue
		}
		job.After, _ = props["After"].([]string)
		since, _ := props["InactiveExitTimestampMonotonic"].(uint64)
		job.ForSec = jobAge(j.Status, since, now)
		out = append(out, job)
	}
	return out, nil
}

// jobAge is how long a job has been at it, in seconds: a running job
// since its unit left "inactive" (sinceUsec, monotonic), a waiting one
// since the boot's jobs were queued (monotonic zero, the kernel's start).
func jobAge(state string, sinceUsec, nowUsec uint64) float64 {
	if state != "running" || sinceUsec == 0 || sinceUsec > nowUsec {
		sinceUsec = 0
	}
	return float64(nowUsec-sinceUsec) / 1e6
}

// monotonicUsec is CLOCK_MONOTONIC, the clock of systemd's *Monotonic
// timestamps, in microseconds.
func monotonicUsec() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}

// ownJob reports whether unit is one of atomic-selftest's own, which
// wait on the boot by design (the boot run is ordered after
// multi-user.target) and are never what holds it.
func ownJob(unit string) bool { return strings.HasPrefix(unit, "atomic-selftest") }

// Waiting returns sd's jobs with each one's WaitingFor (the units of its
// After= that still have a job), and the jobs of other units than
// atomic-selftest's own first: those are what the boot waits for.
func Waiting(ctx context.Context, sd Systemd) ([]record.Job, error) {
	jobs, err := sd.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	queued := map[string]bool{}
	for _, j := range jobs {
		queued[j.Unit] = true
	}
	for i := range jobs {
		jobs[i].WaitingFor = nil
		for _, a := range jobs[i].After {
			if queued[a] {
				jobs[i].WaitingFor = append(jobs[i].WaitingFor, a)
			}
		}
	}
	sort.SliceStable(jobs, func(i, j int) bool { return !ownJob(jobs[i].Unit) && ownJob(jobs[j].Unit) })
	return jobs, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// NoSystemd is the skip reason of a check that needs systemd where it
// does not run the host.
const NoSystemd = "systemd is not PID 1 on this host (/run/systemd/system is missing)"

// HasSystemd reports whether checks can ask systemd: it runs the host
// (SystemdBooted), or a systemd probe was supplied (NewSystemd, as the
// tests' fake in selftest/checktest). It is false offline.
func (h *Host) HasSystemd() bool {
	return !h.Offline && (h.NewSystemd != nil || h.SystemdBooted())
}

// NeedSystemd is the applicability test of a check that asks systemd:
// it skips with NoSystemd unless HasSystemd.
func NeedSystemd(_ context.Context, rc *RunContext) string {
	if !rc.HasSystemd() {
		return NoSystemd
	}
	return ""
}

// DefaultTarget returns the manager's state and its default target's
// unit (multi-user.target when systemd names none): what a check asks
// first to know whether, and when, the boot reached its target.
func DefaultTarget(ctx context.Context, sd Systemd) (record.ManagerState, UnitState, error) {
	m, err := sd.Manager(ctx)
	if err != nil {
		return m, UnitState{}, err
	}
	if m.DefaultTarget == "" {
		m.DefaultTarget = "multi-user.target"
	}
	u, err := sd.Unit(ctx, m.DefaultTarget)
	return m, u, err
}

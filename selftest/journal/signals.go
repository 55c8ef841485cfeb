package journal

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The signals of a bad release in one boot's journal. kola scans every
// test machine's console for the same things and fails the test on a
// match (coreos-assembler, mantle/kola/harness.go, consoleChecks); its
// patterns are the floor here, matched against the journal instead of the
// console, and each only from the sender that can write it, so a user who
// logs "Kernel panic" with logger(1) cannot fail the host.

// Kind groups signals by the check that reports them.
type Kind string

const (
	// KindKernel is the kernel's own trouble: panic, oops, BUG, warning,
	// a hard lockup, I/O and file system errors.
	KindKernel Kind = "kernel"
	// KindStall is the kernel starved: soft lockups, RCU stalls, hung
	// tasks. kola only warns on a soft lockup, since slow I/O on an
	// overloaded test machine shows it too (consoleChecks, warnOnly).
	KindStall Kind = "stall"
	// KindCrash is a process that crashed or was killed: core dumps,
	// segfaults, Go panics of system services, the OOM killer.
	KindCrash Kind = "crash"
	// KindBoot is a boot that went wrong: the emergency or rescue shell,
	// a dracut fatal error, an ordering cycle, a failed generator.
	KindBoot Kind = "boot"
)

// Queries are the journalctl matches the signals are read with: each is
// narrow, so one chatty service cannot crowd the others out of the cap.
var (
	// QueryKernel is what journald read from /dev/kmsg. Only root can
	// write there, and the kernel gives userspace lines facility LOG_USER,
	// never LOG_KERN (printk's devkmsg_write).
	QueryKernel = []string{"_TRANSPORT=kernel"}
	// QueryManager is what the service manager (PID 1) logged.
	QueryManager = []string{"_PID=1", "_UID=0"}
	// QueryRoot is what root's processes logged.
	QueryRoot = []string{"_UID=0"}
	// QueryAudit is what journald read from the kernel's audit netlink
	// socket (systemd-journald-audit.socket): the kernel's own records,
	// and user-space ones only from a process with CAP_AUDIT_WRITE.
	QueryAudit = []string{"_TRANSPORT=audit"}
	// QueryCoredump is systemd-coredump's "Process … dumped core" entry.
	QueryCoredump = []string{"MESSAGE_ID=" + CoredumpMessageID}
)

// CoredumpMessageID is systemd-coredump's entry for a core dump
// (systemd's catalog/systemd.catalog.in, SD_MESSAGE_COREDUMP).
const CoredumpMessageID = "fc2e22bc6ee647b6b90729ab34a250b1"

var (
	kernel  = []Source{{Transport: "kernel"}}
	manager = []Source{{UID: "0", PID: "1"}}
	root    = []Source{{UID: "0"}}
	// systemd-coredump drops to its own user before it logs (coredump.c,
	// change_uid_gid), so its entry is trusted by the service it runs in,
	// which only the manager can name; an older one, run by the kernel's
	// core_pattern pipe, logged as root.
	coredump = []Source{{UnitPrefix: "systemd-coredump@"}, {UID: "0", Comm: "systemd-coredum"}}
)

// Signal is one kind of journal entry that shows a bad release.
type Signal struct {
	// Name says what was seen: "kernel warning".
	Name string
	Kind Kind
	// Query is the journalctl matches that find it, and Sources whose
	// entries are believed (any one of them).
	Query   []string
	Sources []Source
	// Match is matched against MESSAGE and against "SYSLOG_IDENTIFIER:
	// MESSAGE" (journald splits a tag off a line written to /dev/kmsg:
	// "dracut: Refusing to continue" is kept as identifier dracut).
	// MessageID, when set, is matched instead.
	Match     *regexp.Regexp
	MessageID string
	// Peer names where the pattern comes from: "kola" for kola's
	// consoleChecks, "" for ours.
	Peer string
}

// Signals is the table, in the order an entry is tried: the first match
// names it.
var Signals = []Signal{
	{Name: "kernel panic", Kind: KindKernel, Query: QueryKernel, Sources: kernel, Peer: "kola",
		Match: regexp.MustCompile(`Kernel panic - not syncing: (.*)`)},
	{Name: "kernel oops", Kind: KindKernel, Query: QueryKernel, Sources: kernel, Peer: "kola",
		Match: regexp.MustCompile(`Oops:`)},
	{Name: "kernel soft lockup", Kind: KindStall, Query: QueryKernel, Sources: kernel, Peer: "kola",
		Match: regexp.MustCompile(`watchdog: BUG: soft lockup - CPU`)},
	{Name: "kernel hard lockup", Kind: KindKernel, Query: QueryKernel, Sources: kernel,
		Match: regexp.MustCompile(`Watchdog detected hard LOCKUP|hard LOCKUP on cpu`)},
	{Name: "kernel BUG", Kind: KindKernel, Query: QueryKernel, Sources: kernel,
		Match: regexp.MustCompile(`(^|: )BUG: |kernel BUG at `)},
	{Name: "kernel warning", Kind: KindKernel, Query: QueryKernel, Sources: kernel, Peer: "kola",
		Match: regexp.MustCompile(`WARNING: CPU: \d+ PID: \d+ at (.+)`)},
	{Name: "RCU stall", Kind: KindStall, Query: QueryKernel, Sources: kernel,
		Match: regexp.MustCompile(`rcu: INFO: rcu_\w+ (self-)?detected stall|rcu_\w+ self-detected stall on CPU`)},
	{Name: "hung task", Kind: KindStall, Query: QueryKernel, Sources: kernel,
		Match: regexp.MustCompile(`INFO: task .+ blocked for more than \d+ seconds`)},
	{Name: "failure of disk under I/O", Kind: KindKernel, Query: QueryKernel, Sources: kernel, Peer: "kola",
		Match: regexp.MustCompile(`rejecting I/O to offline device`)},
	{Name: "ext4 delayed allocation failure", Kind: KindKernel, Query: QueryKernel, Sources: kernel, Peer: "kola",
		Match: regexp.MustCompile(`EXT4-fs \([^)]+\): Delayed block allocation failed for inode \d+`)},
	{Name: "file system error", Kind: KindKernel, Query: QueryKernel, Sources: kernel,
		Match: regexp.MustCompile(`EXT4-fs error|XFS \([^)]+\): (Corruption|Internal error|metadata I/O error)|BTRFS (error|critical) \(`)},

	{Name: "core dump", Kind: KindCrash, Query: QueryCoredump, Sources: coredump, Peer: "kola",
		MessageID: CoredumpMessageID},
	{Name: "segfault", Kind: KindCrash, Query: QueryKernel, Sources: kernel, Peer: "kola",
		Match: regexp.MustCompile(`\S+\[\d+\]: segfault at [0-9a-f]+ `)},
	{Name: "segfault", Kind: KindCrash, Query: QueryManager, Sources: manager, Peer: "kola",
		Match: regexp.MustCompile(`SIGSEGV|=11/SEGV`)},
	{Name: "oom killer", Kind: KindCrash, Query: QueryKernel, Sources: kernel, Peer: "kola",
		Match: regexp.MustCompile(`invoked oom-killer|Out of memory: Killed process`)},
	{Name: "Go panic", Kind: KindCrash, Query: QueryRoot, Sources: root, Peer: "kola",
		Match: regexp.MustCompile(`^panic: (.*)`)},

	{Name: "emergency shell", Kind: KindBoot, Query: QueryManager, Sources: manager, Peer: "kola",
		Match: regexp.MustCompile(`Starting (Emergency Shell|emergency\.service)`)},
	{Name: "rescue shell", Kind: KindBoot, Query: QueryManager, Sources: manager,
		Match: regexp.MustCompile(`Starting (Rescue Shell|rescue\.service)`)},
	{Name: "dracut fatal", Kind: KindBoot, Query: QueryKernel, Sources: kernel, Peer: "kola",
		Match: regexp.MustCompile(`dracut: (Refusing to continue|FATAL: )`)},
	{Name: "systemd ordering cycle", Kind: KindBoot, Query: QueryManager, Sources: manager, Peer: "kola",
		// "Ordering cycle found" is kola's (older systemd's) wording;
		// systemd 2xx says "Found ordering cycle on …" and "… deleted to
		// break ordering cycle starting with …" (src/core/transaction.c).
		Match: regexp.MustCompile(`Ordering cycle found|Found ordering cycle|to break ordering cycle`)},
	{Name: "systemd generator failure", Kind: KindBoot, Query: QueryRoot, Sources: root, Peer: "kola",
		Match: regexp.MustCompile(`(/.*/system-generators/\S*) (failed with exit status|terminated by signal|failed due to unknown reason)`)},
	{Name: "initrd-cleanup.service terminated", Kind: KindBoot, Query: QueryManager, Sources: manager, Peer: "kola",
		Match: regexp.MustCompile(`initrd-cleanup\.service: Main process exited, code=killed, status=15/TERM`)},
}

// OfKind returns the signals of kind k.
func OfKind(k Kind) []Signal {
	var out []Signal
	for _, s := range Signals {
		if s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}

// Hit is one entry that matched a signal.
type Hit struct {
	Signal string    `json:"signal"`
	Time   time.Time `json:"time"`
	// Unit is the unit the entry is about or came from ("kernel" for the
	// kernel's).
	Unit    string `json:"unit"`
	Message string `json:"message"`
}

// String is the hit in one line: "2026-12-07T21:00:01Z kernel warning
// (kernel): WARNING: CPU: 0 PID: 1 at …".
func (h Hit) String() string {
	ts := "unknown time"
	if !h.Time.IsZero() {
		ts = h.Time.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s %s (%s): %s", ts, h.Signal, h.Unit, h.Message)
}

// NewHit is entry e as a hit of signal: its time and unit, and its line.
func NewHit(signal string, e Entry) Hit {
	return Hit{Signal: signal, Time: entryTime(e), Unit: entryUnit(e), Message: Line(e)}
}

// Scanned is what Scan found in the entries it was given.
type Scanned struct {
	Hits []Hit
	// Allowed counts matches the allow-list let pass.
	Allowed int
}

// Scan returns the hits of sigs among entries, in journal order, leaving
// out those whose line an allow pattern matches. An entry is named by
// the first signal of the whole table whose sender and pattern it
// matches ("watchdog: BUG: soft lockup" is a soft lockup, not a kernel
// BUG), and counts here only when that signal is one of sigs.
func Scan(entries []Entry, sigs []Signal, allow []*regexp.Regexp) Scanned {
	var out Scanned
	for _, e := range entries {
		line := Line(e)
		s, ok := first(e, line)
		if !ok || !contains(sigs, s) {
			continue
		}
		if Allowed(allow, line) {
			out.Allowed++
			continue
		}
		out.Hits = append(out.Hits, NewHit(s.Name, e))
	}
	return out
}

// first is the first signal of the table that e, whose line is line,
// matches from a trusted sender.
func first(e Entry, line string) (Signal, bool) {
	for _, s := range Signals {
		if s.matches(e, line) && trusted(s.Sources, e) {
			return s, true
		}
	}
	return Signal{}, false
}

func contains(sigs []Signal, s Signal) bool {
	for _, x := range sigs {
		if x.Name == s.Name && x.Kind == s.Kind && slices.Equal(x.Query, s.Query) {
			return true
		}
	}
	return false
}

func (s Signal) matches(e Entry, line string) bool {
	if s.MessageID != "" {
		return e["MESSAGE_ID"] == s.MessageID
	}
	return s.Match.MatchString(e["MESSAGE"]) || s.Match.MatchString(line)
}

func trusted(sources []Source, e Entry) bool {
	for _, src := range sources {
		if src.Trusted(e) {
			return true
		}
	}
	return false
}

// Allowed says whether one of the allow patterns ([journal] allow)
// matches line.
func Allowed(allow []*regexp.Regexp, line string) bool {
	for _, a := range allow {
		if a.MatchString(line) {
			return true
		}
	}
	return false
}

// Line is an entry's message as syslog would print it: "IDENTIFIER:
// MESSAGE" when it has an identifier, else MESSAGE.
func Line(e Entry) string {
	if id := e["SYSLOG_IDENTIFIER"]; id != "" && !strings.HasPrefix(e["MESSAGE"], id+":") {
		return id + ": " + e["MESSAGE"]
	}
	return e["MESSAGE"]
}

// entryTime is __REALTIME_TIMESTAMP (µs since the epoch, journald's
// receive time).
func entryTime(e Entry) time.Time {
	us, err := strconv.ParseInt(e["__REALTIME_TIMESTAMP"], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// entryUnit names the unit an entry is about: the unit a core dump or
// the manager's message names, else the sender's unit, else "kernel" or
// "audit" for what the kernel sent, else the sender's command.
func entryUnit(e Entry) string {
	for _, k := range []string{"COREDUMP_UNIT", "UNIT", "_SYSTEMD_UNIT"} {
		if v := e[k]; v != "" {
			return v
		}
	}
	if t := e["_TRANSPORT"]; t == "kernel" || t == "audit" {
		return t
	}
	if c := e["_COMM"]; c != "" {
		return c
	}
	return "no unit"
}

// OutputFields are the fields a signal query asks journalctl for
// (--output-fields; it adds the cursor, timestamps and boot id itself),
// which keeps each entry small.
var OutputFields = []string{"MESSAGE", "MESSAGE_ID", "SYSLOG_IDENTIFIER", "UNIT", "COREDUMP_UNIT",
	"_SYSTEMD_UNIT", "_TRANSPORT", "_UID", "_PID", "_COMM"}

// Runner runs a command by argv and returns its standard output
// (selftest.Host.Run).
type Runner func(ctx context.Context, timeout time.Duration, argv ...string) ([]byte, error)

// BootQuery is one boot's read of a query: the argv it ran, how many
// entries it read, and whether the cap cut it.
type BootQuery struct {
	Argv    []string
	Entries []Entry
	// Capped is true when journalctl printed maxEntries entries: older
	// entries of the boot were not read.
	Capped bool
}

// ReadBoot runs journalctl for the entries of boot bootID ("" for the
// current boot) that query matches, the newest maxEntries of them, with
// OutputFields, and parses them (no sender filter yet: Scan applies each
// signal's).
func ReadBoot(ctx context.Context, run Runner, bootID string, query []string, maxEntries int) (BootQuery, error) {
	boot := "--boot"
	if bootID != "" {
		boot = "--boot=" + strings.ReplaceAll(bootID, "-", "")
	}
	argv := append([]string{"journalctl", "--no-pager", "--output=json", boot,
		"--lines=" + strconv.Itoa(maxEntries), "--output-fields=" + strings.Join(OutputFields, ",")}, query...)
	q := BootQuery{Argv: argv}
	out, err := run(ctx, 60*time.Second, argv...)
	if err != nil {
		return q, fmt.Errorf("reading this boot's journal: %w", err)
	}
	// An entry of OutputFields is well under 4 KiB; the byte limit only
	// guards against a journalctl that ignores --output-fields.
	q.Entries, err = ParseJSONMax(out, Source{}, maxEntries*4096)
	if err != nil {
		return q, err
	}
	q.Capped = len(q.Entries) >= maxEntries
	return q, nil
}

// Queries returns the distinct queries of sigs, in a fixed order, each
// with its signals.
func Queries(sigs []Signal) [][]Signal {
	byQuery := map[string][]Signal{}
	for _, s := range sigs {
		k := strings.Join(s.Query, " ")
		byQuery[k] = append(byQuery[k], s)
	}
	keys := make([]string, 0, len(byQuery))
	for k := range byQuery {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]Signal, len(keys))
	for i, k := range keys {
		out[i] = byQuery[k]
	}
	return out
}

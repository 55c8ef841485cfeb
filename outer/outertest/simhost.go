// Package outertest plays OSTree hosts for the outer driver's tests: an
// in-process SSH server (golang.org/x/crypto/ssh, server side) per host
// that answers the commands the driver runs (rpm-ostree, atomic host and
// ostree admin in their documented output formats, cat, find, systemctl,
// journalctl, atomic-selftest expect), changes its deployments as they
// would, drops connections and refuses them for a while on reboot, comes
// back with a new boot id and writes the self-test's run record a little
// later. Failures are injected per host.
package outertest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// Host is an in-process SSH server that plays an OSTree host for the
// driver: a boot id that changes on reboot, connections that drop on
// reboot and are refused for a while, rpm-ostree, atomic host and ostree
// commands that change the deployments, and a self-test that writes its
// run record a little after each boot. The command outputs follow the
// formats the parsers in status.go document (rpm-ostree status --json,
// ostree admin status and ostree log of ostree 2022.7).
type Host struct {
	Name string
	Addr string
	ln   net.Listener

	mu      sync.Mutex
	key     ssh.Signer
	client  ssh.PublicKey
	bootID  string
	upAt    time.Time // refuse connections until then
	never   bool      // the host never comes back after a reboot
	conns   map[ssh.Conn]bool
	commits map[string]commitInfo
	refs    map[string]string
	deps    []*deployment
	booted  *deployment
	files   map[string][]byte
	serial  int
	boots   int
	nextSeq int

	// Failure injection.
	DownFor        time.Duration
	SelftestDelay  time.Duration
	NeverReturn    bool // after the first reboot
	WrongBoot      bool // boots the second deployment instead of the first
	SelftestFails  bool // the self-test of every boot after the first fails
	NewKeyOnReboot bool
	NoUpgrade      bool   // upgrade finds nothing new
	SelftestNever  bool   // atomic-selftest.service never writes a record
	HangOn         string // the host freezes on a command line starting with this
	// NoWaitOption is a self-test older than `results --wait-boot`: it
	// refuses the flag the way pflag does, and the driver must poll.
	NoWaitOption bool
	// Bootc makes the host a bootc host: it has bootc and podman, and
	// its first deployment was made from a registry image. Set it before
	// the first command.
	Bootc  bool
	images map[string]simImage // containers-storage, by reference
	// ReadOnlySysroot refuses the driver's file writes under /ostree and
	// /sysroot, as a host that mounts /sysroot read-only does; ostree
	// admin commands still work (they remount it in their own mount
	// namespace).
	ReadOnlySysroot bool
	// DeploymentWatch plays atomic-selftest-deployment.path: every
	// change of the deployment list (or a touch of /sysroot/ostree/deploy)
	// bumps the watched directory's mtime and a moment later saves a run
	// record with trigger deployment-change whose deployment.pending
	// names the new default deployment.
	DeploymentWatch bool
	// PendingBroken makes that check fail: the pending deployment's
	// initramfs is missing.
	PendingBroken bool
	deployMtime   time.Time
	// RejectVersion plays [health] on_failure = "rollback": the first
	// boot of a deployment of this version fails its self-test
	// (runtime.run), its record holds the rollback action, and a moment
	// later the host makes the previous deployment the default and
	// reboots by itself; the next boot's record names the rollback by
	// atomic-selftest. RejectNoReboot orders the rollback but never
	// reboots (a broken rollback command).
	RejectVersion  string
	RejectNoReboot bool
	// RejectRebootNow reboots in the same moment the record is saved,
	// before the driver can read it.
	RejectRebootNow bool
	transition      *record.Transition // for the next boot's record
	// Missing are commands the host does not have (rpm-ostree, atomic,
	// docker, ...): they exit 127 and preflight does not list them.
	Missing []string
	saved   chan struct{} // closed and replaced each time a record is saved
	frozen  bool
	done    chan struct{}

	commands []string // every command line received, for assertions
}

// simImage is a container image in the simulated containers-storage.
type simImage struct {
	digest, version, commit string
}

type commitInfo struct {
	parent, version, base string
}

type deployment struct {
	os, checksum, base, version, refspec string
	serial                               int
	packages                             []string
	// A bootc deployment's image reference (TRANSPORT:NAME) and digest,
	// and whether bootc staged it.
	image, digest string
	staged        bool
}

const ResultsDir = "/var/lib/atomic-selftest"

func newKey(t testing.TB) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewHost starts a host booted into one commit on a remote refspec.
func NewHost(t testing.TB, name string, clientKey ssh.PublicKey) *Host {
	t.Helper()
	h := &Host{Name: name, done: make(chan struct{}), key: newKey(t), conns: map[ssh.Conn]bool{}, commits: map[string]commitInfo{},
		refs: map[string]string{}, files: map[string][]byte{}, saved: make(chan struct{}), DownFor: 30 * time.Millisecond, SelftestDelay: 20 * time.Millisecond}
	c0 := sha(name + "c0")
	h.commits[c0] = commitInfo{version: "28.20180515.1"}
	h.refs["fedora/28/x86_64/atomic-host"] = c0
	d := &deployment{os: "fedora-atomic", checksum: c0, base: c0, version: "28.20180515.1", refspec: "fedora-atomic:fedora/28/x86_64/atomic-host"}
	h.deps = []*deployment{d}
	h.files["/ostree/deploy/fedora-atomic/deploy/"+c0+".0.origin"] = []byte("[origin]\nrefspec=" + d.refspec + "\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.ln, h.Addr = ln, ln.Addr().String()
	h.client = clientKey
	h.mu.Lock()
	h.bootLocked(false)
	h.mu.Unlock()
	go h.serve()
	t.Cleanup(h.close)
	return h
}

// FirstCommit is the checksum of the commit a host named name boots first.
func FirstCommit(name string) string { return sha(name + "c0") }

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Commands returns every command line the host received.
func (h *Host) Commands() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{}, h.commands...)
}

// Boots is how many times the host booted.
func (h *Host) Boots() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.boots
}

// Set changes the host's failure injection under its lock.
func (h *Host) Set(f func(h *Host)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h)
}

func (h *Host) close() {
	close(h.done)
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.Close()
	}
}

// HostKey is the key the host offers now.
func (h *Host) HostKey() ssh.PublicKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.key.PublicKey()
}

// bootLocked starts a new boot: a new boot id, the default deployment
// booted, and the self-test's run record written after selftestDelay.
func (h *Host) bootLocked(reboot bool) {
	h.boots++
	h.bootID = randHex(16)
	if reboot && h.NewKeyOnReboot {
		h.key = newKeyNoT()
	}
	for _, d := range h.deps {
		d.staged = false // a boot finalizes the staged deployment
	}
	h.booted = h.deps[0]
	if h.WrongBoot && reboot && len(h.deps) > 1 {
		h.booted = h.deps[1]
	}
	boot, dep, n := h.bootID, *h.booted, h.boots
	time.AfterFunc(h.SelftestDelay, func() { h.selftest(boot, dep, n) })
}

func newKeyNoT() ssh.Signer {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := ssh.NewSignerFromKey(priv)
	return s
}

// selftest writes the run record of a boot the way atomic-selftest.service
// does, consuming the expectation.
func (h *Host) selftest(boot string, dep deployment, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if boot != h.bootID || h.SelftestNever {
		return
	}
	now := time.Now().UTC()
	h.nextSeq++
	rec := &record.Record{Schema: record.SchemaVersion, ToolVersion: "sim", BootID: boot, Hostname: h.Name,
		Trigger: record.TriggerBoot, Start: now.Add(time.Duration(h.nextSeq) * time.Microsecond), End: now,
		Deployment: &record.Deployment{OSName: dep.os, Checksum: dep.checksum, Serial: dep.serial, Version: dep.version,
			Refspec: dep.refspec, LayeredPackages: dep.packages}}
	add := func(id, crit string, st record.Status, msg string) {
		rec.Checks = append(rec.Checks, record.Result{ID: id, Criterion: crit, Required: true, Status: st, Message: msg, Start: now, DurationSec: 0.01})
	}
	add("ostree.booted", "C1", record.StatusPass, "booted "+dep.checksum[:10])
	if data, ok := h.files[ResultsDir+"/expect.json"]; ok {
		var e record.Expectation
		json.Unmarshal(data, &e)
		st, msg := record.StatusPass, "booted the expected deployment"
		if e.Checksum != "" && e.Checksum != dep.checksum {
			st, msg = record.StatusFail, fmt.Sprintf("booted %s, expected %s", dep.checksum[:10], e.Checksum[:10])
		}
		for _, p := range e.Packages {
			if !slices.Contains(dep.packages, p) {
				st, msg = record.StatusFail, p+" is not layered"
			}
		}
		add("deployment.expected", "C3", st, msg)
		rec.Expectation = &e
		delete(h.files, ResultsDir+"/expect.json")
	}
	reject := h.RejectVersion != "" && dep.version == h.RejectVersion
	if h.SelftestFails && n > 1 || reject {
		add("runtime.run", "C8", record.StatusFail, "docker run hello: exit status 125")
	} else {
		add("runtime.run", "C8", record.StatusPass, "")
	}
	rec.Transition, h.transition = h.transition, nil
	rec.Summary = record.Summarise(rec.Checks)
	name := store.RunName(rec)
	rec.ID = strings.TrimSuffix(name, ".json")
	if reject {
		from := rec.Deployment
		prev := h.deps[1]
		rec.Health = &record.Health{Policy: record.HealthRollback, Action: record.HealthRollback, Reason: "required checks failed",
			From: from, To: &record.Deployment{OSName: prev.os, Checksum: prev.checksum, Serial: prev.serial, Version: prev.version},
			Tool: "command", Failing: []record.FailingCheck{{ID: "runtime.run", Message: "docker run hello: exit status 125"}},
			Attempt: 1, MaxAttempts: 1, DecidedAt: now, RebootRequestedAt: now}
		h.transition = &record.Transition{Kind: record.TransitionRollback, From: from, To: rec.Health.To,
			By: record.TransitionByAtomicSelftest, ActionRecord: rec.ID}
		if h.RejectRebootNow {
			defer func() {
				h.deps[0], h.deps[1] = h.deps[1], h.deps[0]
				for c := range h.conns {
					c.Close()
				}
				h.upAt = time.Now().Add(h.DownFor)
				h.bootLocked(true)
			}()
		} else if !h.RejectNoReboot {
			time.AfterFunc(30*time.Millisecond, func() {
				h.mu.Lock()
				h.deps[0], h.deps[1] = h.deps[1], h.deps[0]
				h.mu.Unlock()
				h.reboot()
			})
		}
	}
	data, _ := json.Marshal(rec)
	h.files[ResultsDir+"/"+name] = data
	close(h.saved)
	h.saved = make(chan struct{})
}

// waitBoot is `atomic-selftest results --wait-boot ID --timeout D --format
// json --results-dir DIR`: it prints the boot's record as a JSON array the
// moment it is saved, or exits 6 after D. h.mu is held on entry and exit.
func (h *Host) waitBoot(argv []string, stdout, stderr io.Writer) int {
	if h.NoWaitOption {
		fmt.Fprintln(stderr, "atomic-selftest results: unknown flag: --wait-boot")
		return 2
	}
	opts := map[string]string{}
	for i := 2; i+1 < len(argv); i += 2 {
		opts[argv[i]] = argv[i+1]
	}
	bound, err := time.ParseDuration(opts["--timeout"])
	if err != nil || opts["--format"] != "json" || opts["--results-dir"] != ResultsDir {
		fmt.Fprintf(stderr, "atomic-selftest results: bad options %q\n", argv)
		return 2
	}
	deadline := time.After(bound)
	for {
		for p, data := range h.files {
			if !strings.HasPrefix(p, ResultsDir+"/run-") {
				continue
			}
			var rec record.Record
			if json.Unmarshal(data, &rec) == nil && rec.BootID == opts["--wait-boot"] && rec.Trigger == record.TriggerBoot {
				fmt.Fprintf(stdout, "[%s]\n", data)
				return 0
			}
		}
		saved := h.saved
		h.mu.Unlock()
		select {
		case <-saved:
			h.mu.Lock()
		case <-deadline:
			h.mu.Lock()
			fmt.Fprintf(stderr, "atomic-selftest results: --wait-boot: no run of boot %s within %s\n", opts["--wait-boot"], bound)
			return 6
		}
	}
}

func (h *Host) serve() {
	for {
		nc, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		down := h.never || time.Now().Before(h.upAt)
		conf := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if string(k.Marshal()) == string(h.client.Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("unknown key")
		}}
		conf.AddHostKey(h.key) // the key of this boot
		h.mu.Unlock()
		if down {
			nc.Close() // a host going down or booting: reset
			continue
		}
		go h.conn(nc, conf)
	}
}

func (h *Host) conn(nc net.Conn, conf *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(nc, conf)
	if err != nil {
		nc.Close()
		return
	}
	h.mu.Lock()
	h.conns[sc] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, sc)
		h.mu.Unlock()
		sc.Close()
	}()
	go func() {
		// Global requests (keepalive@openssh.com) are refused, as
		// OpenSSH does, unless the host froze: then nothing answers.
		for r := range reqs {
			h.mu.Lock()
			frozen := h.frozen
			h.mu.Unlock()
			if !frozen && r.WantReply {
				r.Reply(false, nil)
			}
		}
	}()
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			return
		}
		go h.session(ch, creqs)
	}
}

func (h *Host) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var p struct{ Cmd string }
		ssh.Unmarshal(req.Payload, &p)
		req.Reply(true, nil)
		argv, err := shellSplit(p.Cmd)
		if len(argv) > 4 && argv[0] == "timeout" && argv[1] == "-k" {
			argv = argv[4:] // the transport's remote timeout wrapper
		}
		code := 127
		if err != nil {
			fmt.Fprintf(ch.Stderr(), "sh: %v\n", err)
		} else {
			var reboot bool
			code, reboot = h.exec(argv, ch, ch.Stderr(), ch)
			if reboot {
				h.reboot()
				return // the connection dies: no exit status
			}
		}
		ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(code)))
		return
	}
}

func (h *Host) reboot() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.Close()
	}
	if h.NeverReturn {
		h.never = true
		return
	}
	h.upAt = time.Now().Add(h.DownFor)
	h.bootLocked(true)
}

// shellSplit undoes transport.QuoteArgv: single-quoted words, backslash escapes
// outside quotes, words separated by spaces.
func shellSplit(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in, inWord := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == '\'':
			in = false
		case in:
			cur.WriteByte(c)
		case c == '\'':
			in, inWord = true, true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == ' ':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if in {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

func (h *Host) exec(argv []string, stdout, stderr io.Writer, stdin io.Reader) (code int, reboot bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commands = append(h.commands, strings.Join(argv, " "))
	if h.HangOn != "" && strings.HasPrefix(strings.Join(argv, " "), h.HangOn) {
		// The machine freezes (a kernel hang, a network black hole): no
		// answer, no reset.
		h.frozen = true
		h.mu.Unlock()
		<-h.done
		h.mu.Lock()
		return 1, false
	}
	fail := func(format string, a ...any) (int, bool) {
		fmt.Fprintf(stderr, format+"\n", a...)
		return 1, false
	}
	cmd := strings.Join(argv[:min(len(argv), 3)], " ")
	before := h.depsSig()
	defer func() {
		if h.DeploymentWatch && code == 0 && (h.depsSig() != before || cmd == "touch /sysroot/ostree/deploy") {
			h.deploymentChanged()
		}
	}()
	if slices.Contains(h.Missing, argv[0]) {
		fmt.Fprintf(stderr, "sh: %s: command not found\n", argv[0])
		return 127, false
	}
	switch {
	case argv[0] == "sh" && argv[1] == "-c" && strings.Contains(argv[2], "command -v"): // the driver's preflight
		for _, t := range argv[4:] {
			if (slices.Contains([]string{"rpm-ostree", "atomic", "ostree", "docker", "atomic-selftest"}, t) || h.Bootc && (t == "bootc" || t == "podman")) && !slices.Contains(h.Missing, t) {
				fmt.Fprintln(stdout, t)
			}
		}
	case h.Bootc && argv[0] == "bootc" || h.Bootc && argv[0] == "podman":
		return h.bootc(argv, stdout, stderr)
	case cmd == "atomic-selftest version":
		fmt.Fprintln(stdout, "atomic-selftest sim (go1.26, linux/amd64)")
	case argv[0] == "cat" && len(argv) == 3:
		if argv[2] == "/proc/sys/kernel/random/boot_id" {
			b := h.bootID
			fmt.Fprintf(stdout, "%s-%s-%s-%s-%s\n", b[:8], b[8:12], b[12:16], b[16:20], b[20:])
			return 0, false
		}
		data, ok := h.files[argv[2]]
		if !ok {
			return fail("cat: %s: No such file or directory", argv[2])
		}
		stdout.Write(data)
	case argv[0] == "sh" && argv[1] == "-c" && len(argv) == 6: // the driver's atomic write: stdin to $1
		h.mu.Unlock()
		data, err := io.ReadAll(stdin)
		h.mu.Lock()
		if err != nil {
			return fail("read: %v", err)
		}
		if h.ReadOnlySysroot && (strings.HasPrefix(argv[4], "/ostree/") || strings.HasPrefix(argv[4], "/sysroot/")) {
			return fail("sh: 1: cannot create %s: Read-only file system", argv[4])
		}
		h.files[argv[4]] = data
		// An origin file written by the driver retargets its deployment.
		for _, d := range h.deps {
			if argv[4] == fmt.Sprintf("/ostree/deploy/%s/deploy/%s.%d.origin", d.os, d.checksum, d.serial) {
				for _, l := range strings.Split(string(data), "\n") {
					if v, ok := strings.CutPrefix(l, "refspec="); ok {
						d.refspec = v
					}
				}
			}
		}
	case cmd == "systemctl reboot":
		return 0, true
	case argv[0] == "systemctl" && argv[1] == "show" && argv[len(argv)-1] == "atomic-selftest-deployment.path" && h.DeploymentWatch:
		fmt.Fprintln(stdout, "active")
	case argv[0] == "systemctl" && argv[1] == "show":
		fmt.Fprintln(stdout, "inactive")
	case cmd == "stat -c %.9Y" && argv[3] == "/sysroot/ostree/deploy":
		fmt.Fprintf(stdout, "%d.%09d\n", h.deployMtime.Unix(), h.deployMtime.Nanosecond())
	case cmd == "touch /sysroot/ostree/deploy":
	case argv[0] == "journalctl":
		fmt.Fprintf(stdout, "-- boot %s --\nsim kernel: Linux version 6.1\nsim systemd[1]: Startup finished.\n", h.bootID)
	case argv[0] == "find":
		pat := argv[len(argv)-1]
		for p := range h.files {
			if ok, _ := path.Match(argv[1]+"/"+pat, p); ok {
				fmt.Fprintln(stdout, p)
			}
		}
	case argv[0] == "mktemp":
		fmt.Fprintln(stdout, "/var/tmp/atomic-selftest-outer."+randHex(3))
	case argv[0] == "mkdir", argv[0] == "rm", argv[0] == "chown", argv[0] == "chmod", cmd == "rpm-ostree reload":
	case cmd == "rpm-ostree status --json":
		h.rpmOstreeStatus(stdout)
	case cmd == "ostree admin status":
		for _, d := range h.deps {
			mark := " "
			if d == h.booted {
				mark = "*"
			}
			fmt.Fprintf(stdout, "%s %s %s.%d\n    Version: %s\n    origin refspec: %s\n", mark, d.os, d.checksum, d.serial, d.version, d.refspec)
		}
	case argv[0] == "ostree" && (argv[1] == "init" || argv[1] == "config"):
		// The driver's source repository: the simulated host keeps one
		// set of refs and commits for all repositories.
	case argv[0] == "ostree" && argv[1] == "ls" && len(argv) == 7 && argv[3] == "-d" && argv[4] == "-X":
		// ostree ls -d -X COMMIT DIR, as ostree 2022.7 prints a directory
		// (src/ostree/ot-builtin-ls.c): every directory of the simulated
		// trees is 0755 root with no xattrs.
		if _, ok := h.commits[argv[5]]; !ok {
			return fail("error: Refspec '%s' not found", argv[5])
		}
		fmt.Fprintf(stdout, "d00755 0 0      0 { @a(ayay) [] } %s\n", argv[6])
	case argv[0] == "ostree" && argv[1] == "log":
		c, ok := h.refs[argv[len(argv)-1]]
		if !ok {
			return fail("error: Refspec '%s' not found", argv[len(argv)-1])
		}
		for ; c != ""; c = h.commits[c].parent {
			fmt.Fprintf(stdout, "commit %s\n", c)
			if p := h.commits[c].parent; p != "" {
				fmt.Fprintf(stdout, "Parent:  %s\n", p)
			}
			fmt.Fprintf(stdout, "Date:  2018-05-15 00:00:00 +0000\nVersion: %s\n\n", h.commits[c].version)
		}
	case argv[0] == "ostree" && argv[1] == "commit":
		var ref, parent, base, version string
		for _, a := range argv[2:] {
			k, v, _ := strings.Cut(a, "=")
			switch k {
			case "--repo":
				if h.ReadOnlySysroot && (strings.HasPrefix(v, "/ostree/") || strings.HasPrefix(v, "/sysroot/")) {
					return fail("error: Writing content object: Read-only file system")
				}
			case "--branch":
				ref = v
			case "--parent":
				parent = v
			case "--tree":
				if r, ok := strings.CutPrefix(v, "ref="); ok {
					base = r
				}
			case "--add-metadata-string":
				version = strings.TrimPrefix(v, "version=")
			}
		}
		if _, ok := h.commits[base]; !ok {
			return fail("error: Refspec '%s' not found", base)
		}
		c := sha(h.Name + ref + version + parent)
		h.commits[c] = commitInfo{parent: parent, version: version, base: base}
		h.refs[ref] = c
		fmt.Fprintln(stdout, c)
	case cmd == "rpm-ostree upgrade", cmd == "atomic host upgrade", cmd == "ostree admin upgrade":
		ref := h.booted.refspec
		if _, r, ok := strings.Cut(ref, ":"); ok {
			ref = r
		}
		head, ok := h.refs[ref]
		if !ok {
			return fail("error: Refspec '%s' not found", ref)
		}
		if h.NoUpgrade || head == h.booted.checksum {
			fmt.Fprintln(stdout, "No upgrade available.")
			return 0, false
		}
		h.deploy(head, h.booted.refspec, nil)
	case cmd == "rpm-ostree rollback", cmd == "atomic host rollback", argv[0] == "/usr/bin/python3" && argv[1] == "-c": // the ostree rollback script
		if len(h.deps) < 2 {
			return fail("error: No rollback deployment found")
		}
		if h.deps[0] == h.booted {
			h.deps[0], h.deps[1] = h.deps[1], h.deps[0]
		} else {
			rest := []*deployment{h.booted}
			for _, d := range h.deps {
				if d != h.booted {
					rest = append(rest, d)
				}
			}
			h.deps = rest
		}
	case cmd == "rpm-ostree deploy "+argv[len(argv)-1], cmd == "atomic host deploy":
		v := argv[len(argv)-1]
		ref := h.booted.refspec
		if _, r, ok := strings.Cut(ref, ":"); ok {
			ref = r
		}
		for c := h.refs[ref]; c != ""; c = h.commits[c].parent {
			if h.commits[c].version == v {
				h.deploy(c, h.booted.refspec, nil)
				return 0, false
			}
		}
		return fail("error: Failed to find version %s", v)
	case cmd == "ostree admin set-origin" && len(argv) == 7:
		// ostree admin set-origin --set=gpg-verify=false REMOTE URL
		// BRANCH: a fresh origin for the booted deployment; the remote is
		// the driver's source repository, whose branches the simulated
		// host keeps with its local refs.
		if argv[3] != "--set=gpg-verify=false" || argv[5] != "file:///var/lib/atomic-selftest-outer/repo" {
			return fail("set-origin: unexpected arguments %q", argv[3:])
		}
		if _, ok := h.refs[argv[6]]; !ok {
			return fail("error: Refspec '%s' not found", argv[6])
		}
		d := h.booted
		d.refspec = argv[4] + ":" + argv[6]
		h.files[fmt.Sprintf("/ostree/deploy/%s/deploy/%s.%d.origin", d.os, d.checksum, d.serial)] = []byte("[origin]\nrefspec=" + d.refspec + "\n")
	case cmd == "ostree admin undeploy" && len(argv) == 4:
		i, err := strconv.Atoi(argv[3])
		if err != nil || i < 0 || i >= len(h.deps) || h.deps[i] == h.booted {
			return fail("error: Cannot undeploy index %s", argv[3])
		}
		h.deps = slices.Delete(h.deps, i, i+1)
	case cmd == "ostree admin deploy":
		c := argv[3]
		if _, ok := h.commits[c]; !ok {
			return fail("error: Refspec '%s' not found", c)
		}
		h.deploy(c, c, nil)
	case cmd == "rpm-ostree install "+argv[len(argv)-1], cmd == "atomic host install":
		p := argv[len(argv)-1]
		if slices.Contains(h.booted.packages, p) {
			return fail("error: \"%s\" is already requested", p)
		}
		h.deploy(h.booted.base, h.booted.refspec, append(append([]string{}, h.booted.packages...), p))
	case argv[0] == "atomic-selftest" && len(argv) > 3 && argv[1] == "results" && argv[2] == "--wait-boot":
		return h.waitBoot(argv, stdout, stderr), false
	case argv[0] == "atomic-selftest" && argv[1] == "expect":
		e := record.Expectation{Created: time.Now().UTC(), CreatedBootID: h.bootID}
		for i := 2; i+1 < len(argv); i += 2 {
			switch argv[i] {
			case "--checksum":
				e.Checksum = argv[i+1]
			case "--package":
				e.Packages = append(e.Packages, argv[i+1])
			case "--absent-package":
				e.AbsentPackages = append(e.AbsentPackages, argv[i+1])
			default:
				return fail("atomic-selftest expect: unknown flag %s", argv[i])
			}
		}
		data, _ := json.Marshal(e)
		h.files[ResultsDir+"/expect.json"] = data
	default:
		fmt.Fprintf(stderr, "sh: %s: command not found\n", argv[0])
		return 127, false
	}
	return 0, false
}

// depsSig is the deployment list in order.
func (h *Host) depsSig() string {
	var b strings.Builder
	for _, d := range h.deps {
		fmt.Fprintf(&b, "%s.%d ", d.checksum, d.serial)
	}
	return b.String()
}

// deploymentChanged plays ostree's mtime bump and the path unit's run: a
// record with trigger deployment-change a moment later. h.mu is held.
func (h *Host) deploymentChanged() {
	h.deployMtime = time.Now().UTC()
	boot := h.bootID
	next := *h.deps[0]
	time.AfterFunc(20*time.Millisecond, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if boot != h.bootID {
			return
		}
		now := time.Now().UTC()
		h.nextSeq++
		st, msg := record.StatusPass, "nothing pending: the default deployment is the booted one"
		if next.checksum != h.booted.checksum || next.serial != h.booted.serial {
			msg = fmt.Sprintf("%s to %s pending (the new default): kernel and initramfs in place", "deploy", next.version)
			if h.PendingBroken {
				st, msg = record.StatusFail, fmt.Sprintf("deploy to %s pending (the new default): missing /boot/ostree/sim-0/initramfs.img (entry ostree-2.conf)", next.version)
			}
		}
		rec := &record.Record{Schema: record.SchemaVersion, ToolVersion: "sim", BootID: boot, Hostname: h.Name,
			Trigger: record.TriggerDeploymentChange, Start: now.Add(time.Duration(h.nextSeq) * time.Microsecond), End: now.Add(time.Duration(h.nextSeq+1) * time.Microsecond),
			Checks: []record.Result{{ID: "deployment.pending", Criterion: "C3", Required: true, Status: st, Message: msg, Start: now}}}
		rec.Summary = record.Summarise(rec.Checks)
		name := store.RunName(rec)
		rec.ID = strings.TrimSuffix(name, ".json")
		data, _ := json.Marshal(rec)
		h.files[ResultsDir+"/"+name] = data
		close(h.saved)
		h.saved = make(chan struct{})
	})
}

// deploy puts a new deployment of commit (layering packages) first and
// keeps the booted one after it, pruning the rest, as rpm-ostree does.
func (h *Host) deploy(commit, refspec string, packages []string) {
	if commit == "" {
		commit = h.booted.checksum
	}
	h.serial++
	d := &deployment{os: h.booted.os, checksum: commit, base: commit, version: h.commits[commit].version, refspec: refspec, serial: h.serial}
	if len(packages) > 0 {
		d.packages = packages
		d.checksum = sha(commit + strings.Join(packages, ","))
		h.commits[d.checksum] = commitInfo{parent: commit, version: d.version}
	}
	h.files[fmt.Sprintf("/ostree/deploy/%s/deploy/%s.%d.origin", d.os, d.checksum, d.serial)] = []byte("[origin]\nrefspec=" + refspec + "\n")
	h.deps = []*deployment{d, h.booted}
}

func (h *Host) rpmOstreeStatus(w io.Writer) {
	// Written as rpm-ostree names its fields, independently of the
	// driver's parser, so a mismatch between the two shows.
	var deps []map[string]any
	for _, d := range h.deps {
		x := map[string]any{"osname": d.os, "checksum": d.checksum, "serial": d.serial, "version": d.version,
			"origin": d.refspec, "booted": d == h.booted, "packages": d.packages}
		if len(d.packages) > 0 {
			x["base-checksum"] = d.base
		}
		deps = append(deps, x)
	}
	json.NewEncoder(w).Encode(map[string]any{"deployments": deps, "transaction": nil})
}

// Fleet is simulated hosts plus the client side: a client key and a
// known_hosts that knows every host.
type Fleet struct {
	Hosts      []*Host
	KeyFile    string
	KnownHosts string
}

func NewFleet(t testing.TB, n int, tweak func(i int, h *Host)) *Fleet {
	t.Helper()
	dir := t.TempDir()
	f := &Fleet{KeyFile: filepath.Join(dir, "id"), KnownHosts: filepath.Join(dir, "known_hosts")}
	pub := WriteKey(t, f.KeyFile)
	var kh strings.Builder
	for i := 0; i < n; i++ {
		h := NewHost(t, fmt.Sprintf("host%02d", i), pub)
		if tweak != nil {
			h.Set(func(h *Host) { tweak(i, h) })
		}
		f.Hosts = append(f.Hosts, h)
		kh.WriteString(KnownHostsLine(h.Addr, h.HostKey()) + "\n")
	}
	if err := os.WriteFile(f.KnownHosts, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// WriteKey writes a fresh ed25519 private key in OpenSSH format to path
// and returns its public half.
func WriteKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	spub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return spub
}

// KnownHostsLine is addr's known_hosts line in OpenSSH's format.
func KnownHostsLine(addr string, key ssh.PublicKey) string {
	host, port, _ := net.SplitHostPort(addr)
	return fmt.Sprintf("[%s]:%s %s", host, port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))))
}

// bootc answers the commands of the driver's bootc plan the way bootc
// (bootc-dev/bootc crates/lib/src/cli.rs) and podman do, changing the
// deployments: switch and upgrade stage a deployment of an image in
// containers-storage, rollback reorders, status prints the BootcHost
// document of crates/lib/src/spec.rs (shape of the fixture
// crates/lib/src/fixtures/spec-staged-booted.yaml). h.mu is held.
func (h *Host) bootc(argv []string, stdout, stderr io.Writer) (int, bool) {
	fail := func(format string, a ...any) (int, bool) {
		fmt.Fprintf(stderr, "error: "+format+"\n", a...)
		return 1, false
	}
	if h.images == nil {
		h.images = map[string]simImage{}
	}
	if h.booted.image == "" {
		// The first deployment came from a registry image.
		h.booted.image, h.booted.digest = "registry:quay.io/example/sim:latest", "sha256:"+sha(h.Name+"img0")
	}
	cmd := strings.Join(argv, " ")
	switch {
	case cmd == "bootc status --format=json --format-version=1":
		h.bootcStatus(stdout)
	case cmd == "bootc image copy-to-storage":
		h.images["localhost/bootc"] = simImage{digest: h.booted.digest, version: h.booted.version, commit: h.booted.checksum}
	case len(argv) == 5 && argv[0] == "podman" && argv[1] == "build" && argv[2] == "--tag":
		cf := string(h.files[argv[4]+"/Containerfile"])
		from, version := "", ""
		for _, l := range strings.Split(cf, "\n") {
			if v, ok := strings.CutPrefix(l, "FROM "); ok {
				from = v
			}
			if v, ok := strings.CutPrefix(l, "LABEL org.opencontainers.image.version="); ok {
				version = strings.Trim(v, `"`)
			}
		}
		base, ok := h.images[from]
		if !ok {
			return fail("%s: image not known", from)
		}
		c := sha(h.Name + argv[3] + version)
		h.commits[c] = commitInfo{parent: base.commit, version: version}
		h.images[argv[3]] = simImage{digest: "sha256:" + sha(c), version: version, commit: c}
	case len(argv) == 6 && cmd == "podman image inspect --format {{.Digest}} "+argv[5]:
		img, ok := h.images[argv[5]]
		if !ok {
			return fail("%s: image not known", argv[5])
		}
		fmt.Fprintln(stdout, img.digest)
	case len(argv) == 5 && cmd == "bootc switch --transport containers-storage "+argv[4]:
		img, ok := h.images[argv[4]]
		if !ok {
			return fail("%s: image not known", argv[4])
		}
		h.deployImage(img, "containers-storage:"+argv[4])
	case cmd == "bootc upgrade":
		// bootc upgrade fetches the image the host follows: the staged
		// deployment's, else the booted one's.
		follow := h.booted
		if h.deps[0].staged {
			follow = h.deps[0]
		}
		name, ok := strings.CutPrefix(follow.image, "containers-storage:")
		img, known := h.images[name]
		if !ok || !known {
			return fail("pulling %s: no registry in this simulation", follow.image)
		}
		if img.digest == follow.digest {
			fmt.Fprintln(stdout, "No changes in "+follow.image)
			return 0, false
		}
		h.deployImage(img, follow.image)
	case cmd == "bootc rollback":
		if len(h.deps) < 2 {
			return fail("No rollback available")
		}
		rest := []*deployment{}
		for _, d := range h.deps {
			if d != h.booted && !d.staged {
				rest = append(rest, d)
			}
		}
		if h.deps[0] == h.booted {
			h.deps = append(rest[:1:1], h.booted)
		} else {
			h.deps = []*deployment{h.booted, rest[0]}
		}
	default:
		fmt.Fprintf(stderr, "sh: %s: command not found\n", cmd)
		return 127, false
	}
	return 0, false
}

// deployImage stages a deployment of img, replacing a staged one, with
// the booted one after it (ostree's order).
func (h *Host) deployImage(img simImage, ref string) {
	h.serial++
	d := &deployment{os: h.booted.os, checksum: img.commit, base: img.commit, version: img.version, refspec: ref, serial: h.serial,
		image: ref, digest: img.digest, staged: true}
	h.deps = []*deployment{d, h.booted}
}

func (h *Host) bootcStatus(w io.Writer) {
	// Written with bootc's field names, independently of the driver's
	// parser (crates/lib/src/spec.rs).
	entry := func(d *deployment) any {
		if d == nil {
			return nil
		}
		transport, name, _ := strings.Cut(d.image, ":")
		return map[string]any{
			"image": map[string]any{"image": map[string]any{"image": name, "transport": transport},
				"version": d.version, "imageDigest": d.digest, "architecture": "amd64"},
			"cachedUpdate": nil, "incompatible": false, "pinned": false, "softRebootCapable": false, "downloadOnly": false,
			"store": "ostreeContainer", "ostree": map[string]any{"stateroot": d.os, "checksum": d.checksum, "deploySerial": d.serial},
		}
	}
	var staged, rollback *deployment
	bi, ri := 0, 0
	for i, d := range h.deps {
		switch {
		case d == h.booted:
			bi = i
		case i == 0 && d.staged:
			staged = d
		case rollback == nil:
			rollback, ri = d, i
		}
	}
	json.NewEncoder(w).Encode(map[string]any{
		"apiVersion": "org.containers.bootc/v1", "kind": "BootcHost", "metadata": map[string]any{"name": "host"},
		"spec": map[string]any{"image": nil, "bootOrder": "default"},
		"status": map[string]any{"staged": entry(staged), "booted": entry(h.booted), "rollback": entry(rollback),
			"rollbackQueued": rollback != nil && ri < bi, "type": "bootcHost"},
	})
}

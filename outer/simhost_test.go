package outer

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/store"
)

// simHost is an in-process SSH server that plays an OSTree host for the
// driver: a boot id that changes on reboot, connections that drop on
// reboot and are refused for a while, rpm-ostree, atomic host and ostree
// commands that change the deployments, and a self-test that writes its
// run record a little after each boot. The command outputs follow the
// formats the parsers in status.go document (rpm-ostree status --json,
// ostree admin status and ostree log of ostree 2022.7).
type simHost struct {
	name string
	addr string
	ln   net.Listener

	mu      sync.Mutex
	key     ssh.Signer
	client  ssh.PublicKey
	bootID  string
	upAt    time.Time // refuse connections until then
	never   bool      // the host never comes back after a reboot
	conns   map[ssh.Conn]bool
	commits map[string]simCommit
	refs    map[string]string
	deps    []*simDep
	booted  *simDep
	files   map[string][]byte
	serial  int
	boots   int
	nextSeq int

	// Failure injection.
	downFor        time.Duration
	selftestDelay  time.Duration
	neverReturn    bool // after the first reboot
	wrongBoot      bool // boots the second deployment instead of the first
	selftestFails  bool // the self-test of every boot after the first fails
	newKeyOnReboot bool
	noUpgrade      bool // upgrade finds nothing new
	selftestNever  bool // atomic-selftest.service never writes a record

	commands []string // every command line received, for assertions
}

type simCommit struct {
	parent, version, base string
}

type simDep struct {
	os, checksum, base, version, refspec string
	serial                               int
	packages                             []string
}

const simResults = "/var/lib/atomic-selftest"

func newSimKey(t testing.TB) ssh.Signer {
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

// newSimHost starts a host booted into one commit on a remote refspec.
func newSimHost(t testing.TB, name string, clientKey ssh.PublicKey) *simHost {
	t.Helper()
	h := &simHost{name: name, key: newSimKey(t), conns: map[ssh.Conn]bool{}, commits: map[string]simCommit{},
		refs: map[string]string{}, files: map[string][]byte{}, downFor: 30 * time.Millisecond, selftestDelay: 20 * time.Millisecond}
	c0 := sha(name + "c0")
	h.commits[c0] = simCommit{version: "28.20180515.1"}
	h.refs["fedora/28/x86_64/atomic-host"] = c0
	d := &simDep{os: "fedora-atomic", checksum: c0, base: c0, version: "28.20180515.1", refspec: "fedora-atomic:fedora/28/x86_64/atomic-host"}
	h.deps = []*simDep{d}
	h.files["/ostree/deploy/fedora-atomic/deploy/"+c0+".0.origin"] = []byte("[origin]\nrefspec=" + d.refspec + "\n")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.ln, h.addr = ln, ln.Addr().String()
	h.client = clientKey
	h.mu.Lock()
	h.bootLocked(false)
	h.mu.Unlock()
	go h.serve()
	t.Cleanup(h.close)
	return h
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (h *simHost) close() {
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.Close()
	}
}

func (h *simHost) hostKey() ssh.PublicKey {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.key.PublicKey()
}

// bootLocked starts a new boot: a new boot id, the default deployment
// booted, and the self-test's run record written after selftestDelay.
func (h *simHost) bootLocked(reboot bool) {
	h.boots++
	h.bootID = randHex(16)
	if reboot && h.newKeyOnReboot {
		h.key = newSimKeyNoT()
	}
	h.booted = h.deps[0]
	if h.wrongBoot && reboot && len(h.deps) > 1 {
		h.booted = h.deps[1]
	}
	boot, dep, n := h.bootID, *h.booted, h.boots
	time.AfterFunc(h.selftestDelay, func() { h.selftest(boot, dep, n) })
}

func newSimKeyNoT() ssh.Signer {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := ssh.NewSignerFromKey(priv)
	return s
}

// selftest writes the run record of a boot the way atomic-selftest.service
// does, consuming the expectation.
func (h *simHost) selftest(boot string, dep simDep, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if boot != h.bootID || h.selftestNever {
		return
	}
	now := time.Now().UTC()
	h.nextSeq++
	rec := &selftest.Record{Schema: selftest.SchemaVersion, ToolVersion: "sim", BootID: boot, Hostname: h.name,
		Trigger: selftest.TriggerBoot, Start: now.Add(time.Duration(h.nextSeq) * time.Microsecond), End: now,
		Deployment: &selftest.Deployment{OSName: dep.os, Checksum: dep.checksum, Serial: dep.serial, Version: dep.version,
			Refspec: dep.refspec, LayeredPackages: dep.packages}}
	add := func(id, crit string, st selftest.Status, msg string) {
		rec.Checks = append(rec.Checks, selftest.Result{ID: id, Criterion: crit, Required: true, Status: st, Message: msg, Start: now, DurationSec: 0.01})
	}
	add("ostree.booted", "C1", selftest.StatusPass, "booted "+dep.checksum[:10])
	if data, ok := h.files[simResults+"/expect.json"]; ok {
		var e selftest.Expectation
		json.Unmarshal(data, &e)
		st, msg := selftest.StatusPass, "booted the expected deployment"
		if e.Checksum != "" && e.Checksum != dep.checksum {
			st, msg = selftest.StatusFail, fmt.Sprintf("booted %s, expected %s", dep.checksum[:10], e.Checksum[:10])
		}
		for _, p := range e.Packages {
			if !contains(dep.packages, p) {
				st, msg = selftest.StatusFail, p+" is not layered"
			}
		}
		add("deployment.expected", "C3", st, msg)
		rec.Expectation = &e
		delete(h.files, simResults+"/expect.json")
	}
	if h.selftestFails && n > 1 {
		add("runtime.run", "C8", selftest.StatusFail, "docker run hello: exit status 125")
	} else {
		add("runtime.run", "C8", selftest.StatusPass, "")
	}
	rec.Summary = selftest.Summarise(rec.Checks)
	name := store.RunName(rec)
	rec.ID = strings.TrimSuffix(name, ".json")
	data, _ := json.Marshal(rec)
	h.files[simResults+"/"+name] = data
}

func (h *simHost) serve() {
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

func (h *simHost) conn(nc net.Conn, conf *ssh.ServerConfig) {
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
	go ssh.DiscardRequests(reqs)
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

func (h *simHost) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
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

func (h *simHost) reboot() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.Close()
	}
	if h.neverReturn {
		h.never = true
		return
	}
	h.upAt = time.Now().Add(h.downFor)
	h.bootLocked(true)
}

// shellSplit undoes QuoteArgv: single-quoted words, backslash escapes
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

func (h *simHost) exec(argv []string, stdout, stderr io.Writer, stdin io.Reader) (code int, reboot bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.commands = append(h.commands, strings.Join(argv, " "))
	fail := func(format string, a ...any) (int, bool) {
		fmt.Fprintf(stderr, format+"\n", a...)
		return 1, false
	}
	cmd := strings.Join(argv[:min(len(argv), 3)], " ")
	switch {
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
	case argv[0] == "sh" && len(argv) == 6 && argv[2] == writeScript:
		h.mu.Unlock()
		data, err := io.ReadAll(stdin)
		h.mu.Lock()
		if err != nil {
			return fail("read: %v", err)
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
	case argv[0] == "systemctl" && argv[1] == "show":
		fmt.Fprintln(stdout, "inactive")
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
	case argv[0] == "mkdir", argv[0] == "rm", cmd == "rpm-ostree reload":
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
		c := sha(h.name + ref + version + parent)
		h.commits[c] = simCommit{parent: parent, version: version, base: base}
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
		if h.noUpgrade || head == h.booted.checksum {
			fmt.Fprintln(stdout, "No upgrade available.")
			return 0, false
		}
		h.deploy(head, h.booted.refspec, nil)
	case cmd == "rpm-ostree rollback", cmd == "atomic host rollback", argv[0] == "/usr/bin/python3" && argv[2] == rollbackScript:
		if len(h.deps) < 2 {
			return fail("error: No rollback deployment found")
		}
		if h.deps[0] == h.booted {
			h.deps[0], h.deps[1] = h.deps[1], h.deps[0]
		} else {
			rest := []*simDep{h.booted}
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
	case cmd == "ostree admin deploy":
		c := argv[3]
		if _, ok := h.commits[c]; !ok {
			return fail("error: Refspec '%s' not found", c)
		}
		h.deploy(c, c, nil)
	case cmd == "rpm-ostree install "+argv[len(argv)-1], cmd == "atomic host install":
		p := argv[len(argv)-1]
		if contains(h.booted.packages, p) {
			return fail("error: \"%s\" is already requested", p)
		}
		h.deploy(h.booted.base, h.booted.refspec, append(append([]string{}, h.booted.packages...), p))
	case argv[0] == "atomic-selftest" && argv[1] == "expect":
		e := selftest.Expectation{Created: time.Now().UTC(), CreatedBootID: h.bootID}
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
		h.files[simResults+"/expect.json"] = data
	default:
		fmt.Fprintf(stderr, "sh: %s: command not found\n", argv[0])
		return 127, false
	}
	return 0, false
}

// deploy puts a new deployment of commit (layering packages) first and
// keeps the booted one after it, pruning the rest, as rpm-ostree does.
func (h *simHost) deploy(commit, refspec string, packages []string) {
	if commit == "" {
		commit = h.booted.checksum
	}
	h.serial++
	d := &simDep{os: h.booted.os, checksum: commit, base: commit, version: h.commits[commit].version, refspec: refspec, serial: h.serial}
	if len(packages) > 0 {
		d.packages = packages
		d.checksum = sha(commit + strings.Join(packages, ","))
		h.commits[d.checksum] = simCommit{parent: commit, version: d.version}
	}
	h.files[fmt.Sprintf("/ostree/deploy/%s/deploy/%s.%d.origin", d.os, d.checksum, d.serial)] = []byte("[origin]\nrefspec=" + refspec + "\n")
	h.deps = []*simDep{d, h.booted}
}

func (h *simHost) rpmOstreeStatus(w io.Writer) {
	type dep struct {
		OSName   string   `json:"osname"`
		Checksum string   `json:"checksum"`
		Serial   int      `json:"serial"`
		Version  string   `json:"version"`
		Origin   string   `json:"origin"`
		Booted   bool     `json:"booted"`
		Base     string   `json:"base-checksum,omitempty"`
		Packages []string `json:"packages"`
	}
	var out struct {
		Deployments []dep `json:"deployments"`
	}
	for _, d := range h.deps {
		x := dep{OSName: d.os, Checksum: d.checksum, Serial: d.serial, Version: d.version, Origin: d.refspec, Booted: d == h.booted, Packages: d.packages}
		if len(d.packages) > 0 {
			x.Base = d.base
		}
		out.Deployments = append(out.Deployments, x)
	}
	json.NewEncoder(w).Encode(out)
}

// simFleet is simulated hosts plus the client side: a client key and a
// known_hosts that knows every host.
type simFleet struct {
	hosts      []*simHost
	keyFile    string
	knownHosts string
}

func newSimFleet(t testing.TB, n int, tweak func(i int, h *simHost)) *simFleet {
	t.Helper()
	dir := t.TempDir()
	f := &simFleet{keyFile: filepath.Join(dir, "id"), knownHosts: filepath.Join(dir, "known_hosts")}
	pub := writeKey(t, f.keyFile)
	var kh strings.Builder
	for i := 0; i < n; i++ {
		h := newSimHost(t, fmt.Sprintf("host%02d", i), pub)
		if tweak != nil {
			h.mu.Lock()
			tweak(i, h)
			h.mu.Unlock()
		}
		f.hosts = append(f.hosts, h)
		kh.WriteString(knownhostsLine(h.addr, h.hostKey()) + "\n")
	}
	if err := os.WriteFile(f.knownHosts, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *simFleet) machines(t testing.TB) []Machine {
	var ms []Machine
	for _, h := range f.hosts {
		m, err := NewSSH(SSHConfig{Name: h.name, Addr: h.addr, KeyFile: f.keyFile, KnownHosts: f.knownHosts, DialTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		ms = append(ms, m)
	}
	return ms
}

func simOptions(t testing.TB, plan *Plan) Options {
	return Options{Plan: plan, ArtifactsDir: t.TempDir(), Parallel: 64, RebootTimeout: 5 * time.Second,
		SelftestTimeout: 5 * time.Second, CommandTimeout: 5 * time.Second, Poll: Backoff{Min: 5 * time.Millisecond, Max: 40 * time.Millisecond}}
}

// Package outertest plays OSTree hosts for the outer driver's tests: an
// in-process SSH server (golang.org/x/crypto/ssh, server side) per host
// that answers the commands the driver runs (rpm-ostree, atomic host and
// ostree admin in their documented output formats, cat, find, systemctl,
// journalctl, atomic-selftest expect), changes its deployments as they
// would, drops connections and refuses them for a while on reboot, comes
// back with a new boot id and writes the self-test's run record a little
// later. Failures are injected per host.
//
// One file per simulated tool: rpmostree.go (rpm-ostree, atomic host),
// ostree.go (ostree and the libostree rollback script), bootc.go (bootc,
// podman), selftest.go (atomic-selftest and its units), exec.go (sh,
// coreutils, systemd); deployments.go is the simulated sysroot they
// change, server.go the SSH side, fleet.go many hosts and their keys.
package outertest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/atomic-selftest/atomic-selftest/selftest/record"
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
	// Faults are the failures the test injects; set them with Set.
	Faults

	ln     net.Listener
	mu     sync.Mutex
	key    ssh.Signer
	client ssh.PublicKey
	conns  map[ssh.Conn]bool
	frozen bool
	done   chan struct{}
	// The boot: its id, until when connections are refused, whether the
	// host never comes back, how many boots there were.
	bootID string
	upAt   time.Time
	never  bool
	boots  int
	sysroot
	// The self-test's results: record sequence, a channel closed and
	// replaced each time a record is saved, the transition the next
	// boot's record names.
	nextSeq    int
	saved      chan struct{}
	transition *record.Transition

	commands []string // every command line received, for assertions
}

// sysroot is the simulated host's deployments and the repositories,
// image store and files the tools change.
type sysroot struct {
	commits map[string]commitInfo
	refs    map[string]string
	deps    []*deployment
	booted  *deployment
	serial  int
	files   map[string][]byte
	mtimes  map[string]time.Time // of the run records, by the host's clock
	// meta is a file's mode and owner as `stat -c "%a %u:%g"` prints
	// them.
	meta   map[string]string
	images map[string]simImage // containers-storage, by reference
	// deployMtime is the watched /sysroot/ostree/deploy's mtime.
	deployMtime time.Time
}

// Faults are what a test makes a simulated host do wrong (or be).
type Faults struct {
	DownFor        time.Duration // how long a reboot refuses connections
	SelftestDelay  time.Duration // from a boot to its run record
	ClockAhead     time.Duration // how far the host's clock is ahead of the driver's
	NeverReturn    bool          // after the first reboot
	WrongBoot      bool          // boots the second deployment instead of the first
	SelftestFails  bool          // the self-test of every boot after the first fails
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
	Bootc bool
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
	// RejectByDeadline plays a boot that hangs before the self-test
	// (issue 31): the rejecting record is the deadline run's (trigger
	// deadline), host.boot failing with the unit the boot waited for.
	RejectByDeadline bool
	// RejectReboots plays [health] reboot_attempts: the first
	// RejectReboots failing boots of RejectVersion's deployment order a
	// reboot of the same deployment (attempt k of RejectReboots+1) and
	// the host reboots into it; the next failing boot rolls back.
	RejectReboots int
	rejectedBoots int
	// Missing are commands the host does not have (rpm-ostree, atomic,
	// docker, ...): they exit 127 and preflight does not list them.
	Missing []string
	// MachineID, when set, is what /etc/machine-id holds (else each
	// host has its own): hosts cloned without clearing it share one.
	MachineID string
	// RemoveDirVersion and RemoveDir play a release that ships a
	// tmpfiles.d rule `R RemoveDir`: every boot of a deployment of that
	// version removes the directory and everything below it.
	RemoveDirVersion, RemoveDir string
	// EtcNotMerged makes a new deployment start from the tree's own
	// /etc instead of the booted one's: an admin's edits and users are
	// lost on upgrade (a broken /etc merge).
	EtcNotMerged bool
	// SELinuxType, when set, is the SELinux type of every file (a host
	// with SELinux on); else files have no security context.
	SELinuxType string
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
	// etc is the deployment's own /etc: a new deployment gets a copy of
	// the booted one's (ostree's merge), a rollback changes none.
	etc map[string][]byte
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
	h := &Host{Name: name, done: make(chan struct{}), key: newKey(t), conns: map[ssh.Conn]bool{},
		sysroot: sysroot{commits: map[string]commitInfo{}, refs: map[string]string{}, files: map[string][]byte{}, mtimes: map[string]time.Time{}, meta: map[string]string{}},
		saved:   make(chan struct{}), Faults: Faults{DownFor: 30 * time.Millisecond, SelftestDelay: 20 * time.Millisecond}}
	c0 := sha(name + "c0")
	h.commits[c0] = commitInfo{version: "28.20180515.1"}
	h.refs["fedora/28/x86_64/atomic-host"] = c0
	d := &deployment{os: "fedora-atomic", checksum: c0, base: c0, version: "28.20180515.1", refspec: "fedora-atomic:fedora/28/x86_64/atomic-host",
		etc: map[string][]byte{"/etc/machine-id": []byte(randHex(16) + "\n"), "/etc/passwd": []byte("root:x:0:0:root:/root:/bin/bash\n")}}
	h.deps = []*deployment{d}
	h.files[d.originPath()] = []byte("[origin]\nrefspec=" + d.refspec + "\n")
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
	if h.RemoveDir != "" && h.booted.version == h.RemoveDirVersion {
		for p := range h.files {
			if p == h.RemoveDir || strings.HasPrefix(p, h.RemoveDir+"/") {
				delete(h.files, p)
			}
		}
	}
	boot, dep, n := h.bootID, *h.booted, h.boots
	time.AfterFunc(h.SelftestDelay, func() { h.selftest(boot, dep, n) })
}

func newKeyNoT() ssh.Signer {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := ssh.NewSignerFromKey(priv)
	return s
}

// file is what path holds on the booted deployment: /etc is the
// deployment's own, everything else (/var) is shared.
func (h *Host) file(p string) ([]byte, bool) {
	if strings.HasPrefix(p, "/etc/") {
		if p == "/etc/machine-id" && h.MachineID != "" {
			return []byte(h.MachineID + "\n"), true
		}
		b, ok := h.booted.etc[p]
		return b, ok
	}
	b, ok := h.files[p]
	return b, ok
}

// putFile writes path on the booted deployment (see file), owned by root.
func (h *Host) putFile(p string, data []byte, mode string) {
	if strings.HasPrefix(p, "/etc/") {
		h.booted.etc[p] = data
	} else {
		h.files[p] = data
	}
	h.meta[p] = mode + " 0:0"
}

// newEtc is the /etc of a new deployment: the booted one's, merged.
func (h *Host) newEtc() map[string][]byte {
	if h.EtcNotMerged {
		return map[string][]byte{"/etc/machine-id": h.booted.etc["/etc/machine-id"], "/etc/passwd": []byte("root:x:0:0:root:/root:/bin/bash\n")}
	}
	return maps.Clone(h.booted.etc)
}

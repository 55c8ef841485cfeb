// Package qemu is the outer driver's local-VM transport: it boots a disk
// image with qemu-system-x86_64 from the machine's own firmware (SeaBIOS
// and the image's bootloader; never -kernel, so what boots is what OSTree
// wrote), on a qcow2 copy-on-write overlay so the image stays untouched,
// with user-mode networking forwarding SSH to a free loopback port, the
// SSH keys, host name and a first-boot command handed to the guest's
// provisioner (a NoCloud seed, cloud-init's "cidata" volume, or an
// Ignition config on fw_cfg; ProvisionAuto picks by what the image's boot
// entries ask for), and the serial console captured to a file. The
// firmware is SeaBIOS or, for images that boot by UEFI, Debian's OVMF.
//
// A reboot inside the guest is a real reboot of the same QEMU process (no
// -no-reboot). The VM is stopped by Close, when the context given to Start
// is done (the driver was interrupted), and by the kernel when the driver
// itself dies (PR_SET_PDEATHSIG), so no QEMU outlives its driver.
//
// Commands reach the guest over SSH: Machine joins a VM with an SSH
// transport (transport.Machine) and answers Console from the captured serial log.
package qemu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/ignition/v2/config/v3_3/types"
)

// Accelerators.
const (
	AccelTCG  = "tcg"
	AccelKVM  = "kvm"
	AccelAuto = "auto" // KVM when a probe boot reaches init, else TCG
)

// Config describes one VM.
type Config struct {
	// Name is the VM's name in reports and the guest's host name.
	Name string
	// Image is the base disk image (raw or qcow2). It is only read: the
	// guest writes to an overlay in Dir.
	Image string
	// Dir holds QEMU's own log (and the console log by default). It is
	// created; the caller removes it. It is usually inside the artifacts a
	// CI system publishes, so nothing secret goes there: the SSH keys, the
	// seed (which carries the guest's private host key), known_hosts and
	// the overlay (the guest's disk, with the same key) live in a private
	// 0700 temporary directory that Close removes.
	Dir string
	// ConsoleLog is where the serial console is appended (default
	// Dir/console.log); put it in the artifacts.
	ConsoleLog string
	// Memory in MiB (default 2048) and CPUs (default 2).
	Memory int
	CPUs   int
	// Accel is tcg (default), kvm or auto.
	Accel string
	// ProbeCache, with Accel auto, remembers the probe's answer in this
	// file (keyed by QEMU's path and the host kernel) so later runs do not
	// pay for a probe boot. Its directory must be private to the user
	// (made 0700 when missing); see ProbeAccel.
	ProbeCache string
	// QEMU is the emulator binary (default qemu-system-x86_64).
	QEMU string
	// InstanceID for the seed (default Name plus the start time).
	InstanceID string
	// Marker is the file the seed's user script writes (default
	// /var/lib/atomic-selftest-testbed/user-script-ran).
	Marker string
	// RunCmd are extra first-boot commands (argv each): cloud-init's
	// runcmd, or ExecStart= lines of the Ignition config's first-boot unit.
	RunCmd [][]string
	// Provision is cloud-init (default), ignition or auto
	// (DetectProvision).
	Provision string
	// IgnitionConfig is an admin's Ignition config file merged into the
	// driver's (ParseAdminIgnition); only with Ignition provisioning.
	IgnitionConfig string
	// Firmware is bios (default) or uefi (OVMF).
	Firmware string
	// Stderr receives progress lines (nil: discarded).
	Stderr io.Writer
	// DiskCache is QEMU's cache mode for the guest's disk (default
	// unsafe: guest flushes are ignored, which is fastest and safe as long
	// as QEMU exits cleanly or the host keeps running). A power-cut test
	// sets writeback: the guest sees a volatile write cache and its
	// flushes reach the image (qcow2 metadata included), so what an fsync
	// made durable survives a SIGKILL of QEMU (see PowerCut).
	DiskCache string
}

// DefaultMarker is the file the seed's user script writes.
const DefaultMarker = "/var/lib/atomic-selftest-testbed/user-script-ran"

// VM is a running QEMU guest.
type VM struct {
	cfg        Config
	secrets    string // private 0700 directory for keys, seed and overlay
	overlay    string // the guest's disk, in secrets
	accel      string
	provision  string // cloud-init or ignition
	seed       string // the NoCloud seed ISO, in secrets, or
	ignition   string // the Ignition config for fw_cfg
	vars       string // OVMF's variable store (UEFI only)
	port       int
	keyFile    string
	pubKey     string
	hostKey    string
	knownHosts string
	console    *console

	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
	stopOnce sync.Once
	stopErr  error
}

// Start creates the overlay and the seed and boots the VM. It returns once
// QEMU runs (not once the guest booted: see WaitConsole and WaitSSH). The
// VM is stopped when ctx is done or Close is called.
func Start(ctx context.Context, cfg Config) (*VM, error) {
	if cfg.Name == "" || cfg.Image == "" || cfg.Dir == "" {
		return nil, errors.New("qemu: name, image and dir are required")
	}
	if _, err := os.Stat(cfg.Image); err != nil {
		return nil, fmt.Errorf("qemu %s: image: %w", cfg.Name, err)
	}
	if cfg.Memory <= 0 {
		cfg.Memory = 2048
	}
	if cfg.CPUs <= 0 {
		cfg.CPUs = 2
	}
	if cfg.QEMU == "" {
		cfg.QEMU = "qemu-system-x86_64"
	}
	if cfg.Accel == "" {
		cfg.Accel = AccelTCG
	}
	if cfg.ConsoleLog == "" {
		cfg.ConsoleLog = filepath.Join(cfg.Dir, "console.log")
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = fmt.Sprintf("%s-%d", cfg.Name, time.Now().Unix())
	}
	if cfg.Marker == "" {
		cfg.Marker = DefaultMarker
	}
	switch cfg.DiskCache {
	case "":
		cfg.DiskCache = "unsafe"
	case "unsafe", "writeback", "none", "writethrough", "directsync":
	default:
		return nil, fmt.Errorf("qemu %s: disk cache %q: want unsafe, writeback, none, writethrough or directsync", cfg.Name, cfg.DiskCache)
	}
	if cfg.Provision == "" {
		cfg.Provision = ProvisionCloudInit
	}
	if cfg.Firmware == "" {
		cfg.Firmware = FirmwareBIOS
	}
	switch cfg.Firmware {
	case FirmwareBIOS:
	case FirmwareUEFI:
		for _, f := range []string{OVMFCode, OVMFVars} {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("qemu %s: UEFI firmware: %w (install Debian's package ovmf)", cfg.Name, err)
			}
		}
	default:
		return nil, fmt.Errorf("qemu %s: firmware %q: want bios or uefi", cfg.Name, cfg.Firmware)
	}
	var admin *types.Config
	switch cfg.Provision {
	case ProvisionCloudInit, ProvisionIgnition, ProvisionAuto:
	default:
		return nil, fmt.Errorf("qemu %s: provision %q: want auto, cloud-init or ignition", cfg.Name, cfg.Provision)
	}
	if cfg.IgnitionConfig != "" {
		if cfg.Provision == ProvisionCloudInit {
			return nil, fmt.Errorf("qemu %s: an Ignition config (%s) needs Ignition provisioning, not cloud-init", cfg.Name, cfg.IgnitionConfig)
		}
		a, err := ParseAdminIgnition(cfg.IgnitionConfig)
		if err != nil {
			return nil, fmt.Errorf("qemu %s: %w", cfg.Name, err)
		}
		admin = a
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("qemu %s: %w", cfg.Name, err)
	}
	v := &VM{cfg: cfg}
	secrets, err := os.MkdirTemp("", "atomic-selftest-qemu-"+fileSafe(cfg.Name)+"-") // mode 0700
	if err != nil {
		return nil, fmt.Errorf("qemu %s: private directory for its keys: %w", cfg.Name, err)
	}
	v.secrets = secrets
	v.overlay = filepath.Join(secrets, "overlay.qcow2")
	started := false
	defer func() {
		if !started {
			os.RemoveAll(secrets)
		}
	}()
	switch cfg.Accel {
	case AccelTCG, AccelKVM:
		v.accel = cfg.Accel
	case AccelAuto:
		v.accel = ProbeAccel(ctx, cfg)
	default:
		return nil, fmt.Errorf("qemu %s: accel %q: want tcg, kvm or auto", cfg.Name, cfg.Accel)
	}
	v.logf("accelerator %s", v.accel)

	overlay := v.overlay
	if err := makeOverlay(ctx, cfg.Image, overlay); err != nil {
		return nil, fmt.Errorf("qemu %s: %w", cfg.Name, err)
	}
	if err := v.makeKeys(ctx); err != nil {
		return nil, fmt.Errorf("qemu %s: %w", cfg.Name, err)
	}
	v.provision = cfg.Provision
	if v.provision == ProvisionAuto {
		p, why, err := DetectProvision(ctx, cfg.Image)
		if err != nil {
			return nil, fmt.Errorf("qemu %s: telling the image's provisioner (give --qemu-provision): %w", cfg.Name, err)
		}
		v.provision = p
		v.logf("provisioning by %s (%s)", p, why)
	}
	if admin != nil && v.provision != ProvisionIgnition {
		return nil, fmt.Errorf("qemu %s: an Ignition config (%s) was given, but the image is provisioned by %s", cfg.Name, cfg.IgnitionConfig, v.provision)
	}
	seed := Seed{
		InstanceID:     cfg.InstanceID,
		Hostname:       cfg.Name,
		AuthorizedKeys: []string{v.pubKey},
		HostKeyPrivate: mustRead(filepath.Join(v.secrets, "ssh_host_ed25519_key")),
		HostKeyPublic:  v.hostKey,
		RunCmd:         cfg.RunCmd,
		Marker:         cfg.Marker,
	}
	if v.provision == ProvisionIgnition {
		g := &Ignition{Seed: seed, Admin: admin}
		v.ignition = filepath.Join(v.secrets, "config.ign")
		if err := g.WriteFile(v.ignition); err != nil {
			return nil, fmt.Errorf("qemu %s: %w", cfg.Name, err)
		}
	} else {
		v.seed = filepath.Join(v.secrets, "seed.iso")
		if err := seed.WriteISO(ctx, v.seed); err != nil {
			return nil, fmt.Errorf("qemu %s: %w", cfg.Name, err)
		}
	}
	if cfg.Firmware == FirmwareUEFI {
		// The guest writes its boot entries into the variable store: a
		// copy per VM, the template untouched.
		b, err := os.ReadFile(OVMFVars)
		if err != nil {
			return nil, fmt.Errorf("qemu %s: %w", cfg.Name, err)
		}
		v.vars = filepath.Join(v.secrets, "OVMF_VARS.fd")
		if err := os.WriteFile(v.vars, b, 0o600); err != nil {
			return nil, fmt.Errorf("qemu %s: %w", cfg.Name, err)
		}
	}

	// One console log per VM: an old one in the same place is replaced.
	if err := os.WriteFile(cfg.ConsoleLog, nil, 0o600); err != nil {
		return nil, fmt.Errorf("qemu %s: console log: %w", cfg.Name, err)
	}
	// The forwarded port is picked free and then bound by QEMU; another
	// process can take it in between, so a failed hostfwd is retried.
	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("qemu %s: %w", cfg.Name, err)
		}
		v.port = port
		err = v.launch(ctx, overlay)
		if err == nil {
			started = true // Close removes the private directory from now on
			if err := v.writeKnownHosts(); err != nil {
				v.Close()
				return nil, fmt.Errorf("qemu %s: %w", cfg.Name, err)
			}
			v.stopOnDone(ctx)
			return v, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "hostfwd") && !strings.Contains(err.Error(), "host forwarding") {
			break
		}
	}
	return nil, fmt.Errorf("qemu %s: %w", cfg.Name, lastErr)
}

// stopOnDone stops the VM when ctx is done while this QEMU process runs.
func (v *VM) stopOnDone(ctx context.Context) {
	exited := v.exited
	go func() {
		select {
		case <-ctx.Done():
			v.logf("interrupted: stopping QEMU")
			v.Close()
		case <-exited:
		}
	}()
}

func (v *VM) logf(format string, args ...any) {
	if v.cfg.Stderr != nil {
		fmt.Fprintf(v.cfg.Stderr, "qemu %s: %s\n", v.cfg.Name, fmt.Sprintf(format, args...))
	}
}

// args is QEMU's command line. The disk is virtio; the firmware boots it
// through its MBR (or, under UEFI, its EFI system partition), so the
// image's bootloader and OSTree's configuration decide what runs.
func (v *VM) args(overlay string) []string {
	// Under TCG each vCPU gets its own host thread (MTTCG).
	accel := "tcg,thread=multi"
	if v.accel == AccelKVM {
		accel = "kvm"
	}
	// -nodefaults -vga none: no VGA, parallel port or floppy drive for the
	// guest to probe; under TCG each costs seconds of boot.
	args := []string{
		"-name", v.cfg.Name,
		"-nodefaults", "-vga", "none",
		"-machine", "pc",
		"-accel", accel,
		"-m", strconv.Itoa(v.cfg.Memory),
		"-smp", strconv.Itoa(v.cfg.CPUs),
	}
	if v.vars != "" {
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+qemuOptValue(OVMFCode),
			"-drive", "if=pflash,format=raw,unit=1,file="+qemuOptValue(v.vars))
	}
	args = append(args, "-drive", "file="+qemuOptValue(overlay)+",format=qcow2,if=virtio,cache="+v.cfg.DiskCache+",discard=unmap")
	if v.seed != "" {
		args = append(args, "-drive", "file="+qemuOptValue(v.seed)+",format=raw,if=virtio,readonly=on,media=cdrom")
	}
	if v.ignition != "" {
		// Ignition's qemu platform reads its config from this fw_cfg key
		// (internal/providers/qemu in coreos/ignition), as kola passes it
		// (mantle/platform/qemu.go in coreos/coreos-assembler).
		args = append(args, "-fw_cfg", "name=opt/com.coreos/config,file="+qemuOptValue(v.ignition))
	}
	return append(args,
		"-netdev", fmt.Sprintf("user,id=net0,hostfwd=tcp:127.0.0.1:%d-:22", v.port),
		"-device", "virtio-net-pci,netdev=net0",
		"-device", "virtio-rng-pci",
		"-boot", "c",
		"-display", "none",
		"-monitor", "none",
		"-serial", "stdio",
	)
}

// qemuOptValue escapes a value inside a QEMU option string, where a comma
// separates options and ",," is a literal comma.
func qemuOptValue(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// Provision is the provisioner the VM was seeded for (cloud-init or
// ignition; auto resolved).
func (v *VM) Provision() string { return v.provision }

// launch starts QEMU and returns an error when it exits within the first
// second (a bad option, a port already taken).
func (v *VM) launch(ctx context.Context, overlay string) error {
	qlog, err := os.OpenFile(filepath.Join(v.cfg.Dir, "qemu.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer qlog.Close()
	cl, err := os.OpenFile(v.cfg.ConsoleLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("console log: %w", err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(v.cfg.QEMU, v.args(overlay)...)
	cmd.Stdin = nil
	cmd.Stderr = io.MultiWriter(qlog, &lockedBuffer{b: &stderr})
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		cl.Close()
		return err
	}
	v.logf("%s %s", v.cfg.QEMU, strings.Join(cmd.Args[1:], " "))
	if err := cmd.Start(); err != nil {
		cl.Close()
		return fmt.Errorf("starting %s: %w", v.cfg.QEMU, err)
	}
	v.cmd = cmd
	v.exited = make(chan struct{})
	v.console = newConsole(cl)
	go func() {
		v.console.copy(out)
		v.waitErr = cmd.Wait()
		v.console.close()
		close(v.exited)
	}()
	select {
	case <-v.exited:
		return fmt.Errorf("%s exited at once (%v): %s", v.cfg.QEMU, v.waitErr, strings.TrimSpace(stderr.String()))
	case <-time.After(time.Second):
		return nil
	case <-ctx.Done():
		v.Close()
		return ctx.Err()
	}
}

// lockedBuffer lets QEMU's stderr be read while it is still written.
type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil
	}
	return l.b.Write(p)
}

// Accel is the accelerator the VM runs with.
func (v *VM) Accel() string { return v.accel }

// SSHAddr is the forwarded SSH address (127.0.0.1:port).
func (v *VM) SSHAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(v.port)) }

// KeyFile is the private key the seed authorised for root.
func (v *VM) KeyFile() string { return v.keyFile }

// KnownHosts is a known_hosts file holding the guest's host key for
// SSHAddr, so the SSH transport checks it strictly from the first connect.
func (v *VM) KnownHosts() string { return v.knownHosts }

// Exited is closed when QEMU has exited.
func (v *VM) Exited() <-chan struct{} { return v.exited }

// Console returns the last n lines of the serial console.
func (v *VM) Console(n int) []string { return v.console.last(n) }

// ConsoleMark is the number of console lines seen so far; pass it to
// WaitConsole to look only at what comes after.
func (v *VM) ConsoleMark() int { return v.console.mark() }

// WaitConsole waits until a console line after mark (or the line being
// written, such as a login prompt) matches re. It returns the line.
func (v *VM) WaitConsole(ctx context.Context, mark int, re *regexp.Regexp) (string, error) {
	return v.console.wait(ctx, mark, re, v.exited)
}

// WaitSSH waits until the forwarded port answers with an SSH banner
// (RFC 4253 section 4.2: "SSH-2.0-..."), which QEMU's forwarder only gives
// once sshd in the guest accepted the connection.
func (v *VM) WaitSSH(ctx context.Context) (string, error) {
	for {
		banner, err := sshBanner(ctx, v.SSHAddr())
		if err == nil {
			return banner, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("qemu %s: no SSH banner on %s: %w (last console lines: %s)", v.cfg.Name, v.SSHAddr(), ctx.Err(), strings.Join(v.Console(5), " | "))
		case <-v.exited:
			return "", fmt.Errorf("qemu %s: QEMU exited (%v) before sshd answered", v.cfg.Name, v.waitErr)
		case <-time.After(2 * time.Second):
		}
	}
}

func sshBanner(ctx context.Context, addr string) (string, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "SSH-") {
		return "", fmt.Errorf("not an SSH banner: %q", line)
	}
	return strings.TrimSpace(line), nil
}

// Close stops QEMU: SIGTERM to its process group, SIGKILL after 10 s; it
// waits at most 15 s in all. Then it removes the private directory with
// the keys, the seed and the overlay. Calling it again returns the first
// result.
func (v *VM) Close() error {
	v.stopOnce.Do(func() {
		defer func() {
			if v.secrets != "" {
				if err := os.RemoveAll(v.secrets); err != nil && v.stopErr == nil {
					v.stopErr = fmt.Errorf("qemu %s: removing its keys: %w", v.cfg.Name, err)
				}
			}
		}()
		if v.cmd == nil || v.cmd.Process == nil {
			return
		}
		pgid := v.cmd.Process.Pid
		select {
		case <-v.exited:
			return
		default:
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-v.exited:
			return
		case <-time.After(10 * time.Second):
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-v.exited:
		case <-time.After(5 * time.Second):
			v.stopErr = fmt.Errorf("qemu %s: pid %d did not exit after SIGKILL", v.cfg.Name, pgid)
		}
	})
	return v.stopErr
}

// PowerCut stops the guest the way a power loss does: SIGKILL of QEMU's
// process group, so neither the guest nor QEMU writes anything more. What
// is lost is what the guest held in its memory (its page cache: every
// write no fsync forced out) and, with DiskCache writeback, the writes
// QEMU took since the guest's last flush whose qcow2 allocation was not
// yet written (a disk losing part of its volatile cache). What the guest
// flushed is on the host, whose own page cache survives because the host
// keeps running. Not modelled: a disk that acknowledges a flush it did not
// do, or tears a sector. ColdStart boots the same disk again.
func (v *VM) PowerCut() error {
	if v.cmd == nil || v.cmd.Process == nil {
		return fmt.Errorf("qemu %s: not running", v.cfg.Name)
	}
	_ = syscall.Kill(-v.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-v.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("qemu %s: pid %d did not exit after SIGKILL", v.cfg.Name, v.cmd.Process.Pid)
	}
}

// CheckDisk runs qemu-img check on the guest's disk while QEMU is
// stopped: an error for a corrupt image; leaked clusters, which a cut
// between a qcow2 allocation and its use leaves, are not corruption
// (exit status 3) and come back in the report.
func (v *VM) CheckDisk(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "qemu-img", "check", "-q", v.overlay).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		return strings.TrimSpace(string(out)), nil
	}
	if err != nil {
		return "", fmt.Errorf("qemu-img check %s: %w: %s", v.cfg.Name, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// ColdStart boots the same disk (and seed) again after PowerCut: a new
// QEMU process, firmware first, as after the power comes back. The
// console log is appended to; ConsoleMark counts from the new process.
func (v *VM) ColdStart(ctx context.Context) error {
	select {
	case <-v.exited:
	default:
		return fmt.Errorf("qemu %s: still running; cut the power first", v.cfg.Name)
	}
	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		err := v.launch(ctx, v.overlay)
		if err == nil {
			v.stopOnDone(ctx)
			return nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "hostfwd") && !strings.Contains(err.Error(), "host forwarding") {
			break
		}
		// Another process took the port while QEMU was down.
		port, err := freePort()
		if err != nil {
			lastErr = err
			break
		}
		v.port = port
		if err := v.writeKnownHosts(); err != nil {
			lastErr = err
			break
		}
	}
	return fmt.Errorf("qemu %s: cold start: %w", v.cfg.Name, lastErr)
}

func makeOverlay(ctx context.Context, image, overlay string) error {
	abs, err := filepath.Abs(image)
	if err != nil {
		return err
	}
	format, err := imageFormat(ctx, abs)
	if err != nil {
		return err
	}
	_ = os.Remove(overlay)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", format, "-b", abs, overlay).CombinedOutput()
	if err != nil {
		return fmt.Errorf("qemu-img create overlay on %s: %w: %s", image, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// imageFormat asks qemu-img, so a qcow2 base is not mistaken for raw.
func imageFormat(ctx context.Context, image string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "qemu-img", "info", "--output=json", image).Output()
	if err != nil {
		return "", fmt.Errorf("qemu-img info %s: %w", image, err)
	}
	m := regexp.MustCompile(`"format":\s*"([a-z0-9]+)"`).FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("qemu-img info %s: no format in %s", image, out)
	}
	return string(m[1]), nil
}

// makeKeys makes the client key and the guest's host key with ssh-keygen
// (ed25519, no passphrase).
func (v *VM) makeKeys(ctx context.Context) error {
	v.keyFile = filepath.Join(v.secrets, "id_ed25519")
	hostKey := filepath.Join(v.secrets, "ssh_host_ed25519_key")
	for _, k := range []string{v.keyFile, hostKey} {
		_ = os.Remove(k)
		_ = os.Remove(k + ".pub")
		kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := exec.CommandContext(kctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "atomic-selftest@"+v.cfg.Name, "-f", k).CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("ssh-keygen %s: %w: %s", k, err, strings.TrimSpace(string(out)))
		}
	}
	v.pubKey = strings.TrimSpace(mustRead(v.keyFile + ".pub"))
	v.hostKey = strings.TrimSpace(mustRead(hostKey + ".pub"))
	if v.pubKey == "" || v.hostKey == "" {
		return errors.New("ssh-keygen wrote no public key")
	}
	return nil
}

func (v *VM) writeKnownHosts() error {
	f := strings.Fields(v.hostKey)
	if len(f) < 2 {
		return fmt.Errorf("host key %q: not an OpenSSH public key", v.hostKey)
	}
	v.knownHosts = filepath.Join(v.secrets, "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s %s\n", v.port, f[0], f[1])
	return os.WriteFile(v.knownHosts, []byte(line), 0o600)
}

// fileSafe keeps the letters, digits, dots and dashes of a VM name, for
// a temporary directory's name.
func fileSafe(name string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return '_'
	}, name)
}

func mustRead(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

package syscontainer

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"go.podman.io/image/v5/types"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/ociimage"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
	"github.com/atomic-selftest/atomic-selftest/selftest/syscontainerfmt"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "syscontainer.run",
		Criterion:   "C10",
		Required:    true,
		Description: "an OCI image of the probe is copied into the image store, unpacked into a bundle and run by runc; its marker proves the sandbox and nothing is left",
		Timeout:     3 * time.Minute,
		Applies:     needRoot,
		Run:         checkSyscontainerRun,
	})
}

// Prefix starts the name of everything syscontainer.run creates: the runc
// container, its bundle, its image and its source layout. Whatever carries
// it in the self-test's own state directory and runc root is a leftover of
// an earlier run (runs are serialised by the results lock) and is removed.
const Prefix = "atomic-selftest-sc-"

// probeTag is the tag of the probe image in its layouts.
const probeTag = "probe"

// maxUnpack bounds what the probe image may unpack to; the probe is one
// static binary of a few tens of megabytes.
const maxUnpack = 512 << 20

// Where syscontainer.run keeps things, under the state directory.
const (
	srcDir    = "src"     // OCI layouts the probe image is made in
	imagesDir = "images"  // the image store: one OCI layout per image
	bundleDir = "bundles" // runc bundles
	locksDir  = "locks"   // one lock per live probe
)

// probeRun is one run of the probe container. Tests set the hooks.
type probeRun struct {
	h      *selftest.Host
	runc   string // resolved path of runc
	root   string // runc --root
	state  string // state directory
	name   string
	nonce  string
	binary string
	sys    *types.SystemContext
	// source, when set, is the image reference copied into the store
	// instead of the locally made layout (tests: a docker:// registry).
	source string
	// damage, when set, is called with the source layout's directory
	// before the copy (tests: corrupt a blob).
	damage func(layout string) error
	// args, when set, replaces the probe's command line (tests).
	args []string
	// stage, when set, is called after each step with its name (tests:
	// kill the run there).
	stage func(name string)
	// ostree, when set, is the repository the image is stored in and
	// checked out from, as the atomic CLI's system containers are.
	ostree *ociimage.OstreeStore
}

// imageName is the probe image's name in the ostree repository.
func (p *probeRun) imageName() string { return p.name + ":" + probeTag }

func (p *probeRun) reached(name string) {
	if p.stage != nil {
		p.stage(name)
	}
}

func (p *probeRun) dirs() (src, img, bundle string) {
	return filepath.Join(p.state, srcDir, p.name), filepath.Join(p.state, imagesDir, p.name), filepath.Join(p.state, bundleDir, p.name)
}

// runcArgv prefixes runc's global options.
func (p *probeRun) runcArgv(args ...string) []string {
	return append([]string{p.runc, "--root", p.root}, args...)
}

func checkSyscontainerRun(ctx context.Context, t *selftest.T) {
	cfg := t.Config.Syscontainer
	runc, err := exec.LookPath(cfg.Runc)
	if err != nil {
		t.Evidence("runc", "installed", "not found: "+err.Error())
		t.Fail("runc (%q) is not installed: system containers cannot run (%v)", cfg.Runc, err)
		return
	}
	bin := t.ProbeBinary
	if bin == "" {
		if bin, err = probe.Binary(); err != nil {
			t.Error("%v", err)
			return
		}
	}
	if err := staticBinary(bin); err != nil {
		t.Error("%v", err)
		return
	}
	p := &probeRun{
		h: t.Host, runc: runc, root: cfg.RuncRoot, state: cfg.StateDir,
		nonce: probe.NewNonce(), binary: bin,
	}
	p.name = Prefix + p.nonce
	if repo := probeOstreeRepo(t.RunContext); repo != "" {
		p.ostree = &ociimage.OstreeStore{Host: t.Host, Repo: repo, MaxUnpack: maxUnpack}
	}
	p.run(ctx, t, cfg.StartTimeout.D())
}

// run makes the probe image, copies it into the store, unpacks it into a
// bundle, runs it with runc and verifies its marker; then it removes
// everything it made and proves that nothing is left.
func (p *probeRun) run(ctx context.Context, t *selftest.T, timeout time.Duration) {
	if v, err := p.h.Run(ctx, 10*time.Second, p.runc, "--version"); err == nil {
		t.Detail("runc_version", firstLine(string(v)))
	}
	lock, err := p.lockProbe(p.name, true)
	if err != nil {
		t.Error("%v", err)
		return
	}
	// Registered first, so it runs last: the lock outlives the teardown.
	t.Cleanup(func() { unlockProbe(lock) })
	swept, err := p.sweep(ctx)
	if len(swept) > 0 {
		t.Detail("leftovers_removed", swept)
	}
	if err != nil {
		t.Error("removing leftovers of earlier runs: %v", err)
		return
	}
	t.Cleanup(func() {
		// A fresh context: the check's own may have timed out.
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.teardown(cctx)
	})
	src, img, bundle := p.dirs()
	for _, d := range []string{p.root, filepath.Dir(src), filepath.Dir(img), filepath.Dir(bundle)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Error("creating %s: %v", d, err)
			return
		}
	}

	// 1. The probe image, as an OCI layout made offline from the binary.
	srcRef := p.source
	if srcRef == "" {
		_, err := ociimage.WriteLayout(src, probeTag, func(w io.Writer) error { return probe.WriteLayer(w, p.binary) },
			ociimage.Config{Entrypoint: []string{probe.BinaryPath}, User: fmt.Sprint(probe.UID)})
		if err != nil {
			t.Error("making the probe image: %v", err)
			return
		}
		if p.damage != nil {
			if err := p.damage(src); err != nil {
				t.Error("changing the probe image layout %s before the copy: %v", src, err)
				return
			}
		}
		srcRef = "oci:" + src + ":" + probeTag
		p.reached("layout")
	}
	// 2. Copied into the image store with containers/image.
	from, err := ociimage.ParseReference(srcRef)
	if err != nil {
		t.Error("%v", err)
		return
	}
	to, err := ociimage.ParseReference("oci:" + img + ":" + probeTag)
	if err != nil {
		t.Error("%v", err)
		return
	}
	dgst, err := ociimage.Copy(ctx, p.sys, from, to)
	if err != nil {
		t.Evidence("image copy", srcRef+" copied into the store", err.Error())
		t.Fail("copying the probe image into the store failed: %v", err)
		return
	}
	t.Evidence("image copy", "copied into the store", "manifest "+dgst.String())
	t.Detail("image_digest", dgst.String())
	p.reached("copied")

	// 3. Into the ostree repository where system containers' images
	// live, and out of it (or out of the OCI store) into a bundle with a
	// runtime-spec config.json.
	if err := p.unpack(ctx, t, to, bundle); err != nil {
		t.Evidence("bundle", "unpacked from the stored image", err.Error())
		t.Fail("storing or unpacking the probe image failed: %v", err)
		return
	}
	p.reached("unpacked")

	// 4. Run by runc, as a transient systemd service where systemd runs.
	argv := p.runcArgv("run", "--bundle", bundle, p.name)
	if p.h.SystemdBooted() {
		argv = append([]string{"systemd-run", "--quiet", "--pipe", "--wait", "--collect",
			"--unit=" + p.name, "--description=atomic-selftest system container probe",
			"--property=TimeoutStopSec=10", "--"}, argv...)
		t.Detail("started_as", p.name+".service (transient)")
	} else {
		t.Detail("started_as", "runc run (systemd is not PID 1)")
	}
	start := time.Now()
	out, err := p.h.Run(ctx, timeout, argv...)
	t.Detail("run_s", time.Since(start).Seconds())
	var ee *selftest.ExitError
	switch {
	case errors.As(err, &ee):
		t.Evidence("probe exit status", "0", fmt.Sprint(ee.Code))
		t.Fail("the probe container exited with status %d: %v", ee.Code, err)
		return
	case err != nil:
		t.Evidence("probe exit status", "0", err.Error())
		t.Fail("running the probe container failed: %v", err)
		return
	}
	t.Evidence("probe exit status", "0", "0")
	m, err := probe.Parse(out)
	if err != nil {
		t.Fail("%v", err)
		return
	}
	t.Evidence("probe user", fmt.Sprint(probe.UID), fmt.Sprint(m.UID))
	t.Evidence("probe sandbox", "pid 1, read-only root, loopback only, host name "+probe.Hostname,
		fmt.Sprintf("pid %d, read-only root %v, interfaces %v, host name %q", m.PID, m.RootReadOnly, m.Interfaces, m.Hostname))
	problems := probe.Verify(m, probe.Want{Nonce: p.nonce, ReadOnly: true, NoNetwork: true, Hostname: probe.Hostname})
	if m.UID != probe.UID {
		problems = append(problems, fmt.Sprintf("the probe ran as uid %d, expected %d", m.UID, probe.UID))
	}

	// 5. Removed again, and proved removed.
	if left := p.teardown(ctx); len(left) > 0 {
		problems = append(problems, "left behind: "+strings.Join(left, "; "))
		t.Evidence("leftovers", "none", strings.Join(left, "; "))
	} else {
		t.Evidence("leftovers", "none", "none")
	}
	t.Conclude(problems, "the probe image was copied into the store, unpacked and run by runc; its marker checked out and nothing is left")
}

func (p *probeRun) unpack(ctx context.Context, t *selftest.T, ref types.ImageReference, bundle string) error {
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return err
	}
	// The bundle directory itself is ours; only the rootfs is entered by
	// the container's unprivileged user.
	if err := os.Chmod(bundle, 0o711); err != nil {
		return err
	}
	im, err := ociimage.Open(ctx, p.sys, ref)
	if err != nil {
		return err
	}
	defer im.Close()
	if p.ostree != nil {
		src, _, _ := p.dirs()
		if err := p.ostree.ImportImage(ctx, im, p.imageName(), filepath.Join(src, "ostree")); err != nil {
			return fmt.Errorf("storing the image in %s: %w", p.ostree.Repo, err)
		}
		t.Evidence("image store", "ostree repository", p.ostree.Repo+" ref "+syscontainerfmt.OciImagePrefix+syscontainerfmt.EncodeOstreeRef(p.imageName()))
		p.reached("imported")
		if err := p.ostree.Checkout(ctx, p.imageName(), rootfs); err != nil {
			return err
		}
	} else {
		t.Evidence("image store", "ostree repository", "no ostree repository here: the self-test's own OCI store "+filepath.Join(p.state, imagesDir))
		if err := im.Unpack(ctx, rootfs, maxUnpack); err != nil {
			return err
		}
	}
	args := p.args
	if args == nil {
		args = append(append([]string{}, im.Config.Config.Entrypoint...), "probe", "--nonce", p.nonce)
	}
	return probe.WriteRuncSpec(bundle, probe.RuncSpec(args))
}

// teardown deletes the container, its bundle, its image and its source
// layout, and returns what could not be removed.
func (p *probeRun) teardown(ctx context.Context) []string {
	var left []string
	if p.h.SystemdBooted() {
		// A unit left running when the check timed out or was killed.
		_, _ = p.h.Run(ctx, 15*time.Second, "systemctl", "stop", p.name+".service")
	}
	if _, err := p.h.Run(ctx, 15*time.Second, p.runcArgv("delete", "--force", p.name)...); err != nil && p.known(ctx) {
		left = append(left, fmt.Sprintf("runc container %s: %v", p.name, err))
	}
	if p.ostree != nil {
		if err := p.ostree.Remove(ctx, p.imageName()); err != nil {
			left = append(left, err.Error())
		} else if b := syscontainerfmt.OciImagePrefix + syscontainerfmt.EncodeOstreeRef(p.imageName()); p.ostree.Has(b) {
			left = append(left, "ostree branch "+b)
		}
	}
	src, img, bundle := p.dirs()
	for _, d := range []string{bundle, img, src} {
		if err := os.RemoveAll(d); err != nil {
			left = append(left, fmt.Sprintf("%s: %v", d, err))
		}
	}
	return left
}

// known reports whether runc still knows the probe container.
func (p *probeRun) known(ctx context.Context) bool {
	ids, err := p.list(ctx)
	if err != nil {
		return true
	}
	for _, id := range ids {
		if id == p.name {
			return true
		}
	}
	return false
}

// list returns the ids of the containers under the private runc root.
func (p *probeRun) list(ctx context.Context) ([]string, error) {
	if _, err := os.Stat(p.root); errors.Is(err, os.ErrNotExist) { // outside the door: the probe's own runc root
		return nil, nil
	}
	out, err := p.h.Run(ctx, 15*time.Second, p.runcArgv("list", "--format", "json")...)
	if err != nil {
		return nil, err
	}
	var l []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &l); err != nil {
		return nil, fmt.Errorf("runc list: %w", err)
	}
	ids := make([]string, 0, len(l))
	for _, c := range l {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// lockProbe takes the lock of the probe called name: a file under the
// state directory's locks/, flocked while the run that owns the probe
// lives. The kernel drops the lock when that process dies, so a sweep can
// tell a killed run's leftovers (lock free) from a concurrent run's probe
// (lock held: `run --no-save` or another results directory is not
// serialised with the boot's run). With wait false a held lock is
// reported as errProbeBusy.
func (p *probeRun) lockProbe(name string, wait bool) (*os.File, error) {
	dir := filepath.Join(p.state, locksDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR, 0o600) // outside the door: the probe's own lock
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errProbeBusy
		}
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return f, nil
}

var errProbeBusy = errors.New("in use by a running check")

// unlockProbe removes the lock file and releases it.
func unlockProbe(f *os.File) {
	os.Remove(f.Name())
	f.Close()
}

// sweep removes what earlier, killed runs left: every probe (a name
// carrying Prefix) found under the private runc root, in the ostree
// repository or in the state directory whose lock is free. It returns
// what it removed; probes of runs still alive are left alone.
func (p *probeRun) sweep(ctx context.Context) ([]string, error) {
	var removed []string
	var errs []error
	names := map[string]bool{}
	ids, err := p.list(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	running := map[string]bool{}
	for _, id := range ids {
		if strings.HasPrefix(id, Prefix) {
			names[id], running[id] = true, true
		}
	}
	var inOstree map[string]bool
	if p.ostree != nil {
		inOstree = map[string]bool{}
		for _, img := range p.ostree.Leftovers(Prefix) {
			n := strings.TrimSuffix(img, ":"+probeTag)
			names[n], inOstree[n] = true, true
		}
	}
	for _, sub := range []string{bundleDir, imagesDir, srcDir, locksDir} {
		ents, err := os.ReadDir(filepath.Join(p.state, sub)) // outside the door: the probe's own state
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), Prefix) {
				names[e.Name()] = true
			}
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		lock, err := p.lockProbe(n, false)
		if errors.Is(err, errProbeBusy) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		old := &probeRun{h: p.h, runc: p.runc, root: p.root, state: p.state, name: n, ostree: p.ostree}
		if left := old.teardown(ctx); len(left) > 0 {
			errs = append(errs, errors.New(strings.Join(left, "; ")))
		} else {
			if running[n] {
				removed = append(removed, "runc container "+n)
			}
			if inOstree[n] {
				removed = append(removed, "ostree image "+old.imageName())
			}
			removed = append(removed, n)
		}
		unlockProbe(lock)
	}
	return removed, errors.Join(errs...)
}

// staticBinary refuses a probe binary that needs a dynamic loader: the
// probe's container holds the binary alone, so runc would only report
// "exec /atomic-selftest: no such file or directory". The host binary is
// built with CGO_ENABLED=0; a dynamic one is a broken build.
func staticBinary(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("the probe binary %s is not a readable ELF executable: %w", path, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			interp, _ := io.ReadAll(io.LimitReader(prog.Open(), 4096))
			return fmt.Errorf("the probe binary %s is dynamically linked (interpreter %s); it cannot run in a container that holds only itself: build atomic-selftest with CGO_ENABLED=0",
				path, strings.TrimRight(string(interp), "\x00"))
		}
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func needRoot(_ context.Context, h *selftest.RunContext) string {
	if os.Geteuid() != 0 {
		return "runc needs root to create containers; the self-test is not running as root"
	}
	return ""
}

// probeOstreeRepo returns the repository system containers' images live
// in on this host, or "" where there is none (then the probe uses the
// self-test's private OCI store only).
func probeOstreeRepo(h *selftest.RunContext) string {
	cfg := h.Config.Syscontainer
	for _, r := range ostreeRepos(h.Host, cfg.OstreeRepo, cfg.CheckoutDir) {
		if h.Exists(path.Join(r, "config")) {
			return r
		}
	}
	return ""
}

package syscontainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
	"github.com/atomic-selftest/atomic-selftest/selftest/syscontainerfmt"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "syscontainer.installed",
		Criterion:   "C10",
		Required:    true,
		Description: "every installed system container has its info, config.json, image ref in the ostree repository, an active unit and a live runc container",
		Timeout:     time.Minute,
		Offline:     true,
		HostState:   true,
		Run:         checkInstalled,
	})
}

// installedContainer is one system container as the atomic CLI lists it.
type installedContainer struct {
	name string
	dir  string // host path of the <name> link or directory
}

// findContainers lists the containers in the checkout directory and the
// preinstalled one the way the atomic CLI's _get_containers_at does: every
// entry not starting with a dot, leaving out <name>.0 and <name>.1 when a
// <name> link exists. An entry that cannot be followed is a broken
// container, returned with what is wrong.
func findContainers(h *selftest.Host, dirs []string) ([]installedContainer, map[string]string, error) {
	var found []installedContainer
	broken := map[string]string{}
	seen := map[string]bool{}
	for _, dir := range dirs {
		ents, err := h.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("listing %s: %w", dir, err)
		}
		for _, e := range ents {
			n := e.Name()
			if strings.HasPrefix(n, ".") || seen[n] {
				continue
			}
			if strings.HasSuffix(n, ".0") || strings.HasSuffix(n, ".1") {
				if fi, err := h.Lstat(path.Join(dir, n[:len(n)-2])); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
					continue
				}
			}
			seen[n] = true
			p := path.Join(dir, n)
			fi, err := h.Stat(p)
			switch {
			case err != nil && !errors.Is(err, fs.ErrNotExist):
				broken[n] = err.Error()
				continue
			case err != nil:
				target, _ := h.Readlink(p)
				broken[n] = fmt.Sprintf("%s points to %s, which does not exist", p, target)
				continue
			case !fi.IsDir():
				broken[n] = p + " is not a directory"
				continue
			}
			found = append(found, installedContainer{name: n, dir: p})
		}
	}
	return found, broken, nil
}

func checkInstalled(ctx context.Context, t *selftest.T) {
	h := t.RunContext
	cfg := h.Config.Syscontainer
	found, broken, err := findContainers(h.Host, []string{cfg.CheckoutDir, cfg.PreinstalledDir})
	if err != nil {
		t.Fail("%v", err)
		return
	}
	if len(found) == 0 && len(broken) == 0 {
		t.Skip("no system containers are installed (nothing in %s or %s)", cfg.CheckoutDir, cfg.PreinstalledDir)
		return
	}
	problems := map[string][]string{}
	for n, why := range broken {
		problems[n] = append(problems[n], why)
	}
	var sd selftest.Systemd
	if !h.Offline {
		if sd, err = h.Systemd(ctx); err != nil {
			t.Evidence("systemd units", "", "not checked: "+err.Error())
			sd = nil
		}
	}
	repos := ostreeRepos(h.Host, cfg.OstreeRepo, cfg.CheckoutDir)
	var names []string
	for _, c := range found {
		names = append(names, c.name)
		p := inspectContainer(ctx, t, h, sd, repos, c)
		if len(p) > 0 {
			problems[c.name] = p
		}
	}
	for n := range broken {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Detail("containers", names)
	var msgs []string
	for _, n := range names {
		if p := problems[n]; len(p) > 0 {
			t.Evidence("container "+n, "healthy", strings.Join(p, "; "))
			msgs = append(msgs, n+": "+strings.Join(p, "; "))
		} else {
			t.Evidence("container "+n, "healthy", "healthy")
		}
	}
	if len(msgs) > 0 {
		t.Fail("%d of %d system container(s) broken: %s", len(msgs), len(names), strings.Join(msgs, " | "))
		return
	}
	t.Pass("%d system container(s) installed and healthy: %s", len(names), strings.Join(names, ", "))
}

// inspectContainer returns what is wrong with one container.
func inspectContainer(ctx context.Context, t *selftest.T, h *selftest.RunContext, sd selftest.Systemd, repos []string, c installedContainer) []string {
	var p []string
	read := func(name string) ([]byte, error) {
		b, err := h.ReadFile(path.Join(c.dir, name), rootfs.Container)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is missing", path.Join(c.dir, name))
		}
		return b, err
	}
	var info *syscontainerfmt.Info
	b, err := read("info")
	if err == nil {
		info, err = syscontainerfmt.ParseInfo(b)
		if err != nil {
			err = fmt.Errorf("%s: %w", path.Join(c.dir, "info"), err)
		}
	}
	if err != nil {
		p = append(p, err.Error())
	}
	if b, err := read("config.json"); err != nil {
		p = append(p, err.Error())
	} else if !json.Valid(b) {
		p = append(p, path.Join(c.dir, "config.json")+" is not valid JSON")
	}
	if info == nil {
		return p
	}
	t.Detail("image_"+c.name, info.Image)
	if ref, err := findImageRef(h.Host, repos, info.Image); err != nil {
		p = append(p, err.Error())
	} else {
		t.Detail("image_ref_"+c.name, ref)
	}
	if h.Offline {
		return p
	}
	if !info.Service() {
		return p // no unit, and runc runs it only on demand
	}
	unit := c.name + ".service"
	if sd != nil {
		u, err := sd.Unit(ctx, unit)
		switch {
		case err != nil:
			p = append(p, err.Error())
		case u.LoadState != "loaded":
			p = append(p, fmt.Sprintf("unit %s is %s", unit, u.LoadState))
		case u.ActiveState != "active":
			p = append(p, fmt.Sprintf("unit %s is %s (%s)", unit, u.ActiveState, u.SubState))
		}
	}
	if rt := filepath.Base(info.Runtime); info.Runtime == "" || rt == "runc" {
		if why := runcAlive(h, c.name); why != "" {
			p = append(p, why)
		}
	}
	return p
}

// runcAlive checks runc's state of a container: state.json under runc's
// root names a live init process started when runc says it was.
func runcAlive(h *selftest.RunContext, name string) string {
	root := h.Config.Syscontainer.SystemRuncRoot
	sp := path.Join(root, name, "state.json")
	b, err := h.ReadFile(sp, rootfs.Container)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Sprintf("runc does not know the container (no %s)", sp)
	}
	if err != nil {
		return err.Error()
	}
	st, err := syscontainerfmt.ParseRuncState(b)
	if err != nil {
		return fmt.Sprintf("%s: %v", sp, err)
	}
	// Processes are the running kernel's: /proc is never under the root,
	// so this reads the live host's (the zero rootfs.FS).
	stat, err := rootfs.FS{}.ReadFile(fmt.Sprintf("/proc/%d/stat", st.PID), rootfs.Kernel)
	if err != nil {
		return fmt.Sprintf("runc's init process %d is not running", st.PID)
	}
	state, start, ok := procStart(stat)
	if !ok || start != st.Start {
		return fmt.Sprintf("runc's init process %d is gone (pid %d now belongs to another process)", st.PID, st.PID)
	}
	if state == "Z" || state == "X" {
		// Exited but not yet reaped: the container is stopped.
		return fmt.Sprintf("runc's init process %d is not running (it exited)", st.PID)
	}
	return ""
}

// procStart returns fields 3 (state) and 22 (starttime) of
// /proc/PID/stat (proc(5)); the command name in field 2 may hold spaces
// and parentheses, so fields are counted after its last ')'.
func procStart(stat []byte) (string, uint64, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state): field 22 is f[19].
	if len(f) < 20 {
		return "", 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return f[0], v, err == nil
}

// ostreeRepos returns the repositories the atomic CLI may keep images in:
// the configured one, else /ostree/repo (when it exists) and
// CHECKOUT/.storage/ostree (_find_ostree_repo_location).
func ostreeRepos(h *selftest.Host, configured, checkout string) []string {
	if configured != "" {
		return []string{configured}
	}
	var repos []string
	if h.Exists("/ostree/repo/config") {
		repos = append(repos, "/ostree/repo")
	}
	return append(repos, path.Join(checkout, ".storage", "ostree"))
}

// findImageRef returns the ref of image in one of the repositories: the
// atomic CLI's encoded name first, then any ociimage ref that decodes to
// the same image (its Decompose consults DNS to tell a registry from a
// repository, which cannot be done offline).
func findImageRef(h *selftest.Host, repos []string, image string) (string, error) {
	want := syscontainerfmt.EncodeOstreeRef(image)
	for _, repo := range repos {
		if h.Exists(path.Join(repo, "refs/heads", syscontainerfmt.OciImagePrefix+want)) {
			return repo + ":" + syscontainerfmt.OciImagePrefix + want, nil
		}
	}
	norm := syscontainerfmt.NormalizeImage(image)
	for _, repo := range repos {
		ents, err := h.ReadDir(path.Join(repo, "refs/heads", strings.TrimSuffix(syscontainerfmt.OciImagePrefix, "/")))
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if syscontainerfmt.NormalizeImage(syscontainerfmt.DecodeOstreeRef(n)) == norm {
				return repo + ":" + syscontainerfmt.OciImagePrefix + n, nil
			}
		}
	}
	return "", fmt.Errorf("image %s is not in the ostree repository (no ref %s%s in %s)", image, syscontainerfmt.OciImagePrefix, want, strings.Join(repos, " or "))
}

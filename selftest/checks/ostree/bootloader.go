package ostree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/atomic-selftest/atomic-selftest/selftest"
	"github.com/atomic-selftest/atomic-selftest/selftest/checks/internal/ostreehost"
	ot "github.com/atomic-selftest/atomic-selftest/selftest/ostree"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
	"github.com/atomic-selftest/atomic-selftest/selftest/rootfs"
)

func init() {
	selftest.Register(&selftest.Check{
		ID:          "ostree.bootloader",
		Criterion:   "C1",
		Required:    true,
		Description: "every deployment has a BLS entry whose kernel and initramfs exist, no entry points at a missing deployment, the default entry boots the pending or booted deployment",
		Timeout:     30 * time.Second,
		Offline:     true,
		HostState:   true,
		Applies:     ostreehost.NeedSysroot,
		Run:         checkBootloader,
	})
}

// checkBootloader verifies the BLS entries of the current bootversion and,
// where ostree also writes one, the bootloader's own configuration
// (syslinux.cfg, or a grub.cfg generated from the entries).
func checkBootloader(_ context.Context, t *selftest.T) {
	h := t.RunContext
	s, err := ostreehost.Load(h.Host)
	if err != nil {
		t.Fail("%v", err)
		return
	}
	var problems []string
	problems = append(problems, s.Problems...)
	t.Evidence("bootversion", "", fmt.Sprintf("loader.%d, boot.%d.%d", s.BootVersion, s.BootVersion, s.SubBootVersion))
	if len(s.Entries) == 0 {
		t.Fail("no BLS entries in /boot/loader.%d/entries: nothing would boot", s.BootVersion)
		return
	}
	for _, be := range s.BadEntries {
		problems = append(problems, "entry "+be.Err)
	}
	for _, d := range s.Deployments {
		problems = append(problems, d.Problems...)
		if d.Entry == nil {
			continue // staged: its entry is written at shutdown
		}
		for _, f := range ostreehost.BootFiles(h.Host, d.Entry) {
			switch {
			case f.Path == "":
				problems = append(problems, fmt.Sprintf("%s of deployment %s: no %s line", filepath.Base(d.Entry.File), d.Name(), map[bool]string{true: "linux", false: "initrd"}[f.What == "kernel"]))
			case f.Missing:
				// BLS paths are relative to the boot filesystem, /boot here.
				problems = append(problems, fmt.Sprintf("%s of deployment %s: %s /boot%s is missing", filepath.Base(d.Entry.File), record.Short(d.Checksum)+fmt.Sprintf(".%d", d.Serial), f.What, f.Path))
			}
		}
	}
	// A deployment directory no entry boots is not a failure: ostree
	// writes the directory before the entries (a run during a deploy sees
	// it), and an interrupted deploy leaves one until the next cleanup.
	if len(s.Unreferenced) > 0 {
		t.Evidence("deployment directories without a BLS entry", "", strings.Join(s.Unreferenced, ", ")+" (being deployed, or left for ostree's cleanup)")
	}

	// The default must be what boots next in the stateroot that matters:
	// deployment.stateroot when configured, else the booted one's.
	def := firstWithEntry(s)
	want := def
	osname := h.Config.Deployment.Stateroot
	if osname == "" && s.Booted != nil {
		osname = s.Booted.OSName
	}
	if osname != "" {
		pending, _ := s.QueryDeploymentsFor(osname)
		want = s.Booted
		if pending != nil && !pending.Staged {
			want = pending
		}
	}
	if def != nil {
		t.Evidence("default entry", name(want), name(def)+" ("+filepath.Base(def.Entry.File)+")")
		if def != want {
			problems = append(problems, fmt.Sprintf("the default entry boots %s, not the pending or booted deployment %s", name(def), name(want)))
		}
		if file, got, msg := checkLoaderConfig(h.Host, def); file != "" {
			t.Evidence(file+" default", "ostree="+def.Entry.OstreeArg(), got)
			if msg != "" {
				problems = append(problems, msg)
			}
		}
	}
	t.Detail("entries", len(s.Entries))
	t.Conclude(problems, "%s boot %s, kernels and initramfs present; default %s", plural(len(s.Entries), "entry", "entries"), plural(len(s.Deployments), "deployment", "deployments"), name(def))
}

func firstWithEntry(s *ot.Sysroot) *ot.Deployment {
	for _, d := range s.Deployments {
		if d.Entry != nil {
			return d
		}
	}
	return nil
}

func name(d *ot.Deployment) string {
	if d == nil {
		return "none"
	}
	n := fmt.Sprintf("%s %s.%d", d.OSName, record.Short(d.Checksum), d.Serial)
	if v := d.Version(); v != "" {
		n += " (" + v + ")"
	}
	return n
}

// checkLoaderConfig compares the bootloader's own default with the first
// BLS entry, for bootloaders that do not read BLS themselves: ostree
// writes /boot/loader/syslinux.cfg (DEFAULT names a LABEL whose APPEND
// carries ostree=), and grub2 without blscfg boots the first menuentry of
// grub.cfg. It returns the file it read ("" for none), what it boots and
// a problem, if any.
func checkLoaderConfig(h *selftest.Host, def *ot.Deployment) (file, seen, problem string) {
	want := def.Entry.OstreeArg()
	file = "/boot/loader/syslinux.cfg"
	if data, err := h.ReadFile(file, rootfs.BootConfig); err == nil {
		got, ok := syslinuxDefault(string(data))
		if !ok {
			return file, "a label without ostree=", file + " boots by default a label without an ostree= argument"
		}
		if got != want {
			return file, "ostree=" + got, fmt.Sprintf("%s boots ostree=%s by default, the first BLS entry ostree=%s", file, got, want)
		}
		return file, "ostree=" + got, ""
	} else if !errors.Is(err, fs.ErrNotExist) {
		return file, err.Error(), err.Error()
	}
	for _, p := range []string{"/boot/grub2/grub.cfg", "/boot/grub/grub.cfg"} {
		data, err := h.ReadFile(p, rootfs.BootConfig)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return p, err.Error(), err.Error()
		}
		text := string(data)
		// With blscfg, grub reads the entries itself.
		if strings.Contains(text, "blscfg") {
			return p, "blscfg (reads the BLS entries)", ""
		}
		i := strings.Index(text, "ostree=/ostree/")
		if i < 0 {
			return p, "no ostree= entry", p + " has no menu entry with an ostree= argument"
		}
		got := strings.Fields(text[i+len("ostree="):])[0]
		if got != want {
			return p, "ostree=" + got, fmt.Sprintf("%s boots ostree=%s first, the first BLS entry ostree=%s", p, got, want)
		}
		return p, "ostree=" + got, ""
	}
	return "", "", ""
}

// syslinuxDefault returns the ostree= argument of the label syslinux
// boots: the DEFAULT one, or the first when there is no DEFAULT (ostree
// drops a DEFAULT it did not write). Labels are the rest of the line and
// may contain spaces: ostree writes "LABEL <title>" and "DEFAULT <title>".
func syslinuxDefault(cfg string) (string, bool) {
	labels := map[string]string{}
	def, cur, first := "", "", ""
	for _, line := range strings.Split(cfg, "\n") {
		line = strings.TrimSpace(line)
		word, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(word) {
		case "DEFAULT":
			def = rest
		case "LABEL":
			cur = rest
			if first == "" {
				first = rest
			}
		case "APPEND":
			if v := kernelArg(rest, "ostree"); v != "" && cur != "" {
				labels[cur] = v
			}
		}
	}
	if def == "" {
		def = first
	}
	v, ok := labels[def]
	return v, ok
}

func kernelArg(cmdline, name string) string {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

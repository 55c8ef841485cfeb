package outertest

// The simulated host's command line: each command goes to the file of the
// tool that owns it (rpmostree.go, ostree.go, bootc.go, selftest.go); the
// coreutils, sh and systemd commands the driver uses are here.

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// exec runs one command line on the host, under h.mu.
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
	before := h.depsSig()
	defer func() {
		if h.DeploymentWatch && code == 0 && (h.depsSig() != before || strings.Join(argv, " ") == "touch "+watchedDir) {
			h.deploymentChanged()
		}
	}()
	if slices.Contains(h.Missing, argv[0]) {
		return notFound(stderr, argv[0])
	}
	switch argv[0] {
	case "rpm-ostree":
		return h.rpmOstree(argv, stdout, stderr)
	case "atomic":
		return h.atomicHost(argv, stdout, stderr)
	case "ostree", "/usr/bin/python3":
		return h.ostree(argv, stdout, stderr)
	case "bootc", "podman":
		if h.Bootc {
			return h.bootc(argv, stdout, stderr)
		}
	case "atomic-selftest":
		return h.selftestCommand(argv, stdout, stderr)
	case "systemctl", "journalctl":
		return h.systemd(argv, stdout)
	case "sh", "cat", "find", "mktemp", "mkdir", "rm", "chown", "chmod", "stat", "touch", "date", "useradd", "getent":
		return h.shell(argv, stdout, stderr, stdin)
	}
	return notFound(stderr, argv[0])
}

// watchedDir is what the host's atomic-selftest-deployment.path watches.
const watchedDir = "/sysroot/ostree/deploy"

func fail(stderr io.Writer, format string, a ...any) (int, bool) {
	fmt.Fprintf(stderr, format+"\n", a...)
	return 1, false
}

func notFound(stderr io.Writer, cmd string) (int, bool) {
	fmt.Fprintf(stderr, "sh: %s: command not found\n", cmd)
	return 127, false
}

// shell is sh (the driver's preflight and its atomic file write) and the
// coreutils the driver runs. h.mu is held.
func (h *Host) shell(argv []string, stdout, stderr io.Writer, stdin io.Reader) (int, bool) {
	switch {
	case argv[0] == "sh" && len(argv) > 2 && argv[1] == "-c" && strings.Contains(argv[2], "command -v"): // the driver's preflight
		for _, t := range argv[4:] {
			if (slices.Contains([]string{"rpm-ostree", "atomic", "ostree", "docker", "atomic-selftest"}, t) || h.Bootc && (t == "bootc" || t == "podman")) && !slices.Contains(h.Missing, t) {
				fmt.Fprintln(stdout, t)
			}
		}
	case argv[0] == "sh" && len(argv) == 6 && argv[1] == "-c": // the driver's atomic write: stdin to $1
		h.mu.Unlock()
		data, err := io.ReadAll(stdin)
		h.mu.Lock()
		if err != nil {
			return fail(stderr, "read: %v", err)
		}
		if h.ReadOnlySysroot && (strings.HasPrefix(argv[4], "/ostree/") || strings.HasPrefix(argv[4], "/sysroot/")) {
			return fail(stderr, "sh: 1: cannot create %s: Read-only file system", argv[4])
		}
		h.putFile(argv[4], data, strings.TrimLeft(argv[5], "0"))
		// An origin file written by the driver retargets its deployment.
		for _, d := range h.deps {
			if argv[4] == d.originPath() {
				for _, l := range strings.Split(string(data), "\n") {
					if v, ok := strings.CutPrefix(l, "refspec="); ok {
						d.refspec = v
					}
				}
			}
		}
	case argv[0] == "cat" && len(argv) == 3:
		if argv[2] == "/proc/sys/kernel/random/boot_id" {
			b := h.bootID
			fmt.Fprintf(stdout, "%s-%s-%s-%s-%s\n", b[:8], b[8:12], b[12:16], b[16:20], b[20:])
			return 0, false
		}
		data, ok := h.file(argv[2])
		if !ok {
			return fail(stderr, "cat: %s: No such file or directory", argv[2])
		}
		stdout.Write(data)
	case argv[0] == "find":
		pat := argv[len(argv)-1]
		for p := range h.files {
			if ok, _ := path.Match(argv[1]+"/"+pat, p); ok {
				fmt.Fprintln(stdout, p)
			}
		}
	case argv[0] == "mktemp":
		fmt.Fprintln(stdout, "/var/tmp/atomic-selftest-outer."+randHex(3))
	case (argv[0] == "chown" || argv[0] == "chmod") && len(argv) == 3:
		// chmod MODE FILE, chown UID:GID FILE: what stat shows next.
		m, ok := h.meta[argv[2]]
		if _, there := h.file(argv[2]); !there || !ok {
			return fail(stderr, "%s: cannot access '%s': No such file or directory", argv[0], argv[2])
		}
		mode, owner, _ := strings.Cut(m, " ")
		if argv[0] == "chmod" {
			mode = argv[1]
		} else {
			owner = argv[1]
		}
		h.meta[argv[2]] = mode + " " + owner
	case argv[0] == "stat" && len(argv) == 4 && argv[1] == "-c" && argv[2] == "%a %u:%g":
		if _, ok := h.file(argv[3]); !ok {
			return fail(stderr, "stat: cannot statx '%s': No such file or directory", argv[3])
		}
		fmt.Fprintln(stdout, h.meta[argv[3]])
	case argv[0] == "stat" && len(argv) == 4 && argv[1] == "-c" && argv[2] == "%C":
		// A host with SELinux off: GNU stat's words.
		if h.SELinuxType == "" {
			return fail(stderr, "stat: failed to get security context of '%s': No data available", argv[3])
		}
		fmt.Fprintf(stdout, "system_u:object_r:%s:s0\n", h.SELinuxType)
	case argv[0] == "useradd":
		// useradd ... NAME: a line in the booted deployment's /etc/passwd.
		name := argv[len(argv)-1]
		h.booted.etc["/etc/passwd"] = append(slices.Clone(h.booted.etc["/etc/passwd"]), []byte(name+":x:999:999::/:/usr/sbin/nologin\n")...)
	case argv[0] == "getent" && len(argv) == 3 && argv[1] == "passwd":
		for _, l := range strings.Split(string(h.booted.etc["/etc/passwd"]), "\n") {
			if strings.HasPrefix(l, argv[2]+":") {
				fmt.Fprintln(stdout, l)
				return 0, false
			}
		}
		return 2, false // getent: key not found
	case argv[0] == "mkdir", argv[0] == "rm", argv[0] == "chown", argv[0] == "chmod":
	case strings.Join(argv, " ") == "touch "+watchedDir:
	case strings.Join(argv, " ") == "date +%s.%N":
		now := h.clock()
		fmt.Fprintf(stdout, "%d.%09d\n", now.Unix(), now.Nanosecond())
	case len(argv) == 4 && argv[0] == "stat" && argv[1] == "-c" && argv[2] == "%.9Y":
		m, ok := h.mtimes[argv[3]]
		if argv[3] == watchedDir {
			m, ok = h.deployMtime, true
		}
		if !ok {
			return fail(stderr, "stat: cannot statx '%s': No such file or directory", argv[3])
		}
		fmt.Fprintf(stdout, "%d.%09d\n", m.Unix(), m.Nanosecond())
	default:
		return notFound(stderr, argv[0])
	}
	return 0, false
}

// systemd is systemctl (reboot, and show of a unit's ActiveState) and
// journalctl. h.mu is held.
func (h *Host) systemd(argv []string, stdout io.Writer) (int, bool) {
	switch {
	case strings.Join(argv, " ") == "systemctl reboot":
		return 0, true
	case argv[0] == "systemctl" && len(argv) > 1 && argv[1] == "show" && argv[len(argv)-1] == "atomic-selftest-deployment.path" && h.DeploymentWatch:
		fmt.Fprintln(stdout, "active")
	case argv[0] == "systemctl" && len(argv) > 1 && argv[1] == "show":
		fmt.Fprintln(stdout, "inactive")
	case argv[0] == "journalctl":
		fmt.Fprintf(stdout, "-- boot %s --\nsim kernel: Linux version 6.1\nsim systemd[1]: Startup finished.\n", h.bootID)
	}
	return 0, false
}

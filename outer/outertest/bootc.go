package outertest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

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
		image: ref, digest: img.digest, staged: true, etc: h.newEtc()}
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

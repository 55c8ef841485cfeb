package dockerprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
	"github.com/atomic-selftest/atomic-selftest/selftest/record"
)

const (
	// LabelOwner marks every container and image the self-test creates;
	// its value is the creating process's Owner.
	LabelOwner = "io.atomic-selftest.owner"
	// ImageRepo is the repository of probe images; the tag is the nonce.
	ImageRepo = "atomic-selftest-probe"
	// NamePrefix starts the name of every probe container.
	NamePrefix = "atomic-selftest-probe-"
	// ProbeUser is the unprivileged uid:gid the probe runs as.
	ProbeUser = "65534:65534"
	// RemoveTimeout bounds a removal that runs after the caller's context
	// ended, so a cut-short check still cleans up.
	RemoveTimeout = 30 * time.Second
	// maxOutput bounds what is kept of a probe's output.
	maxOutput = 1 << 20
)

// ImageRef returns the probe image reference for nonce.
func ImageRef(nonce string) string { return ImageRepo + ":" + nonce }

// ContainerName returns the probe container name for nonce.
func ContainerName(nonce string) string { return NamePrefix + nonce }

// Hostname returns the host name the probe container for nonce gets, so
// the marker proves the container was this run's.
func Hostname(nonce string) string {
	if len(nonce) > 12 {
		nonce = nonce[:12]
	}
	return "probe-" + nonce
}

// ImportProbe makes the probe image ImageRef(nonce) from binary: the
// one-file layer of selftest/probe streamed to POST /images/create with
// fromSrc=-, labelled with owner. changes are further Dockerfile
// instructions for the image (`docker import --change`), such as a LABEL.
// It returns the image id.
func (c *Client) ImportProbe(ctx context.Context, binary, nonce string, owner Owner, changes ...string) (string, error) {
	return c.importLayer(ctx, binary, ImageRef(nonce), append([]string{fmt.Sprintf("LABEL %s=%s", LabelOwner, owner)}, changes...))
}

// importLayer imports the probe layer of binary as ref with the
// Dockerfile instructions changes and returns the image id.
func (c *Client) importLayer(ctx context.Context, binary, ref string, changes []string) (string, error) {
	if c.Podman {
		return c.importLibpod(ctx, binary, ref, changes)
	}
	if err := c.negotiate(ctx); err != nil {
		return "", c.explain("importing the probe image", ctx, 0, err)
	}
	pr, pw := io.Pipe()
	writeErr := make(chan error, 1)
	go func() {
		err := probe.WriteLayer(pw, binary)
		pw.CloseWithError(err)
		writeErr <- err
	}()
	rc, err := c.api.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, ref,
		client.ImageImportOptions{Message: "atomic-selftest probe", Changes: changes})
	if err != nil {
		pr.CloseWithError(err)
		if werr := <-writeErr; werr != nil {
			return "", &Error{Kind: KindLocal, Err: fmt.Errorf("making the probe layer: %w", werr)}
		}
		return "", c.explain("importing the probe image", ctx, 0, err)
	}
	defer rc.Close()
	id, err := readImportStream(rc)
	pr.Close()
	if werr := <-writeErr; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return "", &Error{Kind: KindLocal, Err: fmt.Errorf("making the probe layer: %w", werr)}
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", c.explain("importing the probe image", ctx, 0, err)
		}
		return "", &Error{Kind: KindDaemon, Err: fmt.Errorf("importing the probe image: %w", err)}
	}
	return id, nil
}

// readImportStream reads the JSON messages of an import: the last status
// is the new image's id; an errorDetail is the daemon's refusal.
func readImportStream(r io.Reader) (string, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxOutput))
	var id string
	for {
		var m jsonstream.Message
		err := dec.Decode(&m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("reading the daemon's answer: %w", err)
		}
		if m.Error != nil {
			return "", fmt.Errorf("the daemon refused it: %s", m.Error.Message)
		}
		if strings.HasPrefix(m.Status, "sha256:") {
			id = strings.TrimSpace(m.Status)
		}
	}
	if id == "" {
		return "", errors.New("the daemon's answer named no image")
	}
	return id, nil
}

// Spec is one probe container.
type Spec struct {
	// Image is the probe image (ImageRef of an imported nonce).
	Image string
	// Nonce is echoed by the probe; it names the container and its host.
	Nonce string
	Owner Owner
}

// Config returns the container configuration for s: the probe command,
// the nonce's host name, the owner label and the unprivileged user.
func (s Spec) Config() *container.Config {
	return &container.Config{
		Image:           s.Image,
		Cmd:             []string{probe.BinaryPath, "probe", "--nonce", s.Nonce},
		Hostname:        Hostname(s.Nonce),
		User:            ProbeUser,
		NetworkDisabled: true,
		Labels:          map[string]string{LabelOwner: s.Owner.String()},
	}
}

// HostConfig returns the sandbox: no network, read-only root, every
// capability dropped, no new privileges, no init process (the probe must
// be pid 1 whatever daemon.json says), and the json-file log driver so its
// output can be read back whatever the daemon's default log driver is.
// It also sets the probe's own modest resource limits (ProbeUlimits):
// podman otherwise asks the OCI runtime for nofile and nproc limits from
// its containers.conf defaults or its own limits, which are above the hard
// limits of a host with tightened limits, and raising a hard limit takes
// CAP_SYS_RESOURCE (setrlimit(2)), so runc fails with "error setting
// rlimit type 7: operation not permitted". Limits at or below the host's
// hard ones need no privilege, on docker as on podman.
func (s Spec) HostConfig() *container.HostConfig {
	no := false
	hc := &container.HostConfig{
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Init:           &no,
		LogConfig:      container.LogConfig{Type: "json-file"},
	}
	for _, u := range ProbeUlimits {
		hc.Ulimits = append(hc.Ulimits, &u)
	}
	return hc
}

// ProbeUlimits are the probe container's resource limits: a static
// binary that opens a few files and forks nothing needs no more, and
// 1024 is at or below every distribution's default hard limit.
var ProbeUlimits = []container.Ulimit{
	{Name: "nofile", Soft: 1024, Hard: 1024},
	{Name: "nproc", Soft: 1024, Hard: 1024},
}

// Timings are how long each step of the cycle took.
type Timings struct {
	Create time.Duration `json:"create"`
	Start  time.Duration `json:"start"`
	// Exit is from the end of start until the daemon reported the exit.
	Exit   time.Duration `json:"exit"`
	Logs   time.Duration `json:"logs"`
	Remove time.Duration `json:"remove"`
}

// Total is the whole cycle.
func (t Timings) Total() time.Duration { return t.Create + t.Start + t.Exit + t.Logs + t.Remove }

// Outcome is what one probe container did.
type Outcome struct {
	ContainerID string
	ExitCode    int64
	Stdout      []byte
	Stderr      []byte
	Timings     Timings
	// Warnings are what the daemon said when creating the container.
	Warnings []string
	// RemoveErr is set when the container could not be removed.
	RemoveErr error
}

// RunProbe creates, starts and waits for the probe container of s, reads
// its output, and removes it. The container is removed whatever happens,
// with a fresh bounded context when ctx has ended. An error means a step
// failed; a probe that ran and exited non-zero is an Outcome with its exit
// code, not an error.
func (c *Client) RunProbe(ctx context.Context, s Spec) (out *Outcome, err error) {
	out = &Outcome{}
	if err := c.negotiate(ctx); err != nil {
		return out, c.explain("creating the probe container", ctx, 0, err)
	}
	name := ContainerName(s.Nonce)
	created := false
	defer func() {
		if !created {
			return
		}
		t0 := time.Now()
		out.RemoveErr = c.RemoveContainer(ctx, name)
		out.Timings.Remove = time.Since(t0)
		if out.RemoveErr != nil && err == nil {
			err = out.RemoveErr
		}
	}()

	t0 := time.Now()
	cr, err := c.api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: s.Config(), HostConfig: s.HostConfig(), Name: name,
	})
	out.Timings.Create = time.Since(t0)
	if err != nil {
		// A create cut short by ctx may still have happened in the
		// daemon: remove by name anyway.
		created = ctx.Err() != nil
		return out, c.explain("creating the probe container", ctx, 0, err)
	}
	created = true
	out.ContainerID, out.Warnings = cr.ID, cr.Warnings

	t0 = time.Now()
	if _, err := c.api.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		out.Timings.Start = time.Since(t0)
		return out, c.explain("starting the probe container", ctx, 0, err)
	}
	out.Timings.Start = time.Since(t0)

	t0 = time.Now()
	if c.Podman {
		code, err := c.waitLibpod(ctx, cr.ID)
		out.Timings.Exit = time.Since(t0)
		if err != nil {
			return out, err
		}
		out.ExitCode = code
		return c.readLogs(ctx, cr.ID, out)
	}
	wr := c.api.ContainerWait(ctx, cr.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-wr.Result:
		out.Timings.Exit = time.Since(t0)
		out.ExitCode = res.StatusCode
		if res.Error != nil && res.Error.Message != "" {
			return out, &Error{Kind: KindDaemon, Err: fmt.Errorf("waiting for the probe container: %s", res.Error.Message)}
		}
	case err := <-wr.Error:
		out.Timings.Exit = time.Since(t0)
		return out, c.explain("waiting for the probe container", ctx, 0, err)
	case <-ctx.Done():
		out.Timings.Exit = time.Since(t0)
		return out, c.explain("waiting for the probe container", ctx, 0, ctx.Err())
	}

	return c.readLogs(ctx, cr.ID, out)
}

// readLogs reads the exited probe's stdout and stderr into out.
func (c *Client) readLogs(ctx context.Context, id string, out *Outcome) (*Outcome, error) {
	t0 := time.Now()
	rc, err := c.api.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		out.Timings.Logs = time.Since(t0)
		return out, c.explain("reading the probe's output", ctx, 0, err)
	}
	var stdout, stderr bytes.Buffer
	_, err = stdcopy.StdCopy(&stdout, &stderr, io.LimitReader(rc, maxOutput))
	rc.Close()
	out.Timings.Logs = time.Since(t0)
	out.Stdout, out.Stderr = stdout.Bytes(), stderr.Bytes()
	if err != nil {
		return out, c.explain("reading the probe's output", ctx, 0, err)
	}
	return out, nil
}

// fresh returns ctx if it is still live, or else a new context bounded by
// RemoveTimeout, so removals run even after a check was cut short.
func fresh(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return context.WithTimeout(ctx, RemoveTimeout)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), RemoveTimeout)
}

// RemoveContainer force-removes a container by name or id; one that does
// not exist is not an error.
func (c *Client) RemoveContainer(ctx context.Context, nameOrID string) error {
	rctx, cancel := fresh(ctx)
	defer cancel()
	if err := c.negotiate(rctx); err != nil {
		return c.explain("removing probe container "+nameOrID, rctx, 0, err)
	}
	_, err := c.api.ContainerRemove(rctx, nameOrID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	// Another remover got there first (a second run cleaning the same
	// leftover, or the daemon finishing the removal a killed run asked
	// for): the daemon answers with a conflict, "removal ... already in
	// progress". Wait until it is gone, so that the caller may rely on it.
	if err != nil && cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress") {
		for {
			_, ierr := c.api.ContainerInspect(rctx, nameOrID, client.ContainerInspectOptions{})
			if cerrdefs.IsNotFound(ierr) {
				return nil
			}
			select {
			case <-rctx.Done():
				return c.explain("removing probe container "+nameOrID+" (its removal was already in progress)", rctx, 0, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if err != nil && !cerrdefs.IsNotFound(err) {
		return c.explain("removing probe container "+nameOrID, rctx, 0, err)
	}
	return nil
}

// RemoveImage removes an image reference (untagging it, and deleting the
// image when it was the last tag); one that does not exist is not an
// error. force also removes an image by id that has several tags.
func (c *Client) RemoveImage(ctx context.Context, ref string, force bool) error {
	rctx, cancel := fresh(ctx)
	defer cancel()
	if err := c.negotiate(rctx); err != nil {
		return c.explain("removing probe image "+ref, rctx, 0, err)
	}
	_, err := c.api.ImageRemove(rctx, ref, client.ImageRemoveOptions{Force: force, PruneChildren: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return c.explain("removing probe image "+ref, rctx, 0, err)
	}
	return nil
}

// Owned lists the containers (names) and images (ids) that carry
// LabelOwner, with their owners.
type Owned struct {
	Containers map[string]string // name or id -> owner label
	Images     map[string]string // id -> owner label
}

// ListOwned returns every container (running or not) and image the
// self-test created on this daemon.
func (c *Client) ListOwned(ctx context.Context) (Owned, error) {
	f := client.Filters{}.Add("label", LabelOwner)
	o := Owned{Containers: map[string]string{}, Images: map[string]string{}}
	if err := c.negotiate(ctx); err != nil {
		return o, c.explain("listing probe containers", ctx, 0, err)
	}
	cl, err := c.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return o, c.explain("listing probe containers", ctx, 0, err)
	}
	for _, ct := range cl.Items {
		name := ct.ID
		if len(ct.Names) > 0 {
			name = strings.TrimPrefix(ct.Names[0], "/")
		}
		o.Containers[name] = ct.Labels[LabelOwner]
	}
	il, err := c.api.ImageList(ctx, client.ImageListOptions{All: true, Filters: f})
	if err != nil {
		return o, c.explain("listing probe images", ctx, 0, err)
	}
	for _, im := range il.Items {
		o.Images[im.ID] = im.Labels[LabelOwner]
	}
	return o, nil
}

// RemoveLeftovers removes the containers and images that earlier runs
// left: those whose owner is neither self nor a process still running. It
// returns what it removed. Probes of a live run are left alone.
func (c *Client) RemoveLeftovers(ctx context.Context, self Owner) ([]string, error) {
	owned, err := c.ListOwned(ctx)
	if err != nil {
		return nil, err
	}
	stale := func(label string) bool {
		o, err := ParseOwner(label)
		if err != nil {
			return true // not ours to interpret: it carries our label, so it is ours to remove
		}
		return o != self && !o.Alive()
	}
	var removed []string
	var errs []error
	for name, label := range owned.Containers {
		if !stale(label) {
			continue
		}
		if err := c.RemoveContainer(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "container "+name)
	}
	for id, label := range owned.Images {
		if !stale(label) {
			continue
		}
		if err := c.RemoveImage(ctx, id, true); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "image "+record.Short(id))
	}
	return removed, errors.Join(errs...)
}

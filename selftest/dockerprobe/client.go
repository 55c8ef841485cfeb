// Package dockerprobe owns the self-test's conversation with a container
// runtime over the Docker Engine API (a unix socket, the moby client that
// containers/image also uses): ping, /info, and the probe cycle that proves
// the runtime runs containers. The probe image is made offline from the
// static atomic-selftest binary (selftest/probe's one-file layer, imported
// through POST /images/create?fromSrc=-), the container runs
// `/atomic-selftest probe --nonce N` with no network, a read-only root, no
// capabilities and an unprivileged user, and is removed whatever happens.
//
// Everything the self-test creates carries the label LabelOwner naming the
// process that created it (boot id, pid and the process's start time), so
// a later run can tell leftovers of a killed run from the probes of a run
// still going, and remove only the former (RemoveLeftovers).
package dockerprobe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
)

// Client talks to one Engine API socket. It is safe for concurrent use.
type Client struct {
	// Socket is the unix socket's path.
	Socket string
	// Podman makes ImportProbe use podman's libpod API (see
	// importLibpod); everything else goes through the Docker-compatible
	// API, which podman serves as well.
	Podman bool

	mu      sync.Mutex
	api     *client.Client
	version string // the API version in use, once negotiated
}

// Dial returns a client for the unix socket at socket (a path, or a
// unix:// URL). It does not connect yet: the first call does.
func Dial(socket string) (*Client, error) {
	path := strings.TrimPrefix(socket, "unix://")
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("runtime socket %q is not an absolute path", socket)
	}
	api, err := newAPI(path)
	if err != nil {
		return nil, fmt.Errorf("runtime socket %s: %w", path, err)
	}
	return &Client{api: api, Socket: path}, nil
}

func newAPI(path string, opts ...client.Opt) (*client.Client, error) {
	return client.New(append([]client.Opt{client.WithHost("unix://" + path), client.WithUserAgent("atomic-selftest")}, opts...)...)
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.api.Close()
}

// API returns the underlying Engine API client after negotiating the
// API version, for tests and callers that need more than this package
// wraps.
func (c *Client) API(ctx context.Context) (*client.Client, error) {
	if err := c.negotiate(ctx); err != nil {
		return nil, err
	}
	return c.api, nil
}

// negotiate settles the API version once. The moby client refuses to
// negotiate below its MinAPIVersion (1.40, docker 19.03), but Fedora
// Atomic Host's docker 1.13 speaks 1.26: so the version is read from the
// daemon's ping and pinned, which the client allows. Every request this
// package makes exists in API 1.26.
func (c *Client) negotiate(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != "" {
		return nil
	}
	res, err := c.api.Ping(ctx, client.PingOptions{})
	if err != nil {
		return err
	}
	v := res.APIVersion
	if v == "" || versions.GreaterThan(v, client.MaxAPIVersion) {
		v = client.MaxAPIVersion
	}
	api, err := newAPI(c.Socket, client.WithAPIVersion(v))
	if err != nil {
		return fmt.Errorf("runtime socket %s: API version %q: %w", c.Socket, v, err)
	}
	c.api.Close()
	c.api, c.version = api, v
	return nil
}

// APIVersion is the API version in use ("" before the first request).
func (c *Client) APIVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// Ping asks the daemon for GET /_ping and waits at most timeout for the
// answer. It returns the API version the daemon speaks and how long the
// answer took. The error says which of "nothing listens", "no answer in
// time" and "answered wrongly" happened.
func (c *Client) Ping(ctx context.Context, timeout time.Duration) (apiVersion string, took time.Duration, err error) {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	if err := c.negotiate(pctx); err != nil {
		return "", time.Since(start), c.explain("ping", pctx, timeout, err)
	}
	res, err := c.api.Ping(pctx, client.PingOptions{})
	took = time.Since(start)
	if err != nil {
		return "", took, c.explain("ping", pctx, timeout, err)
	}
	return res.APIVersion, took, nil
}

// Info returns GET /info: the storage driver and its status pairs, the
// daemon's root directory, its version.
func (c *Client) Info(ctx context.Context) (system.Info, error) {
	if err := c.negotiate(ctx); err != nil {
		return system.Info{}, c.explain("GET /info", ctx, 0, err)
	}
	res, err := c.api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return system.Info{}, c.explain("GET /info", ctx, 0, err)
	}
	return res.Info, nil
}

// explain turns a client error into a sentence an operator can act on:
// the socket, what was asked, and why it did not work.
func (c *Client) explain(what string, ctx context.Context, timeout time.Duration, err error) error {
	switch {
	case ctx.Err() == context.DeadlineExceeded && timeout > 0:
		return &Error{Kind: KindNoAnswer, Err: fmt.Errorf("%s: the runtime at %s did not answer within %s", what, c.Socket, timeout)}
	case ctx.Err() != nil:
		return &Error{Kind: KindNoAnswer, Err: fmt.Errorf("%s: no answer from the runtime at %s before the check's time ran out: %w", what, c.Socket, ctx.Err())}
	case client.IsErrConnectionFailed(err):
		return &Error{Kind: KindUnreachable, Err: fmt.Errorf("%s: cannot connect to the runtime at %s (is the daemon running?): %w", what, c.Socket, errors.Unwrap(err))}
	case cerrdefs.IsNotFound(err):
		return &Error{Kind: KindNotFound, Err: fmt.Errorf("%s: %w", what, err)}
	}
	return &Error{Kind: KindDaemon, Err: fmt.Errorf("%s: the runtime at %s answered with an error: %w", what, c.Socket, err)}
}

// Kind classifies an Error.
type Kind string

const (
	// KindUnreachable: nothing accepts connections on the socket.
	KindUnreachable Kind = "unreachable"
	// KindNoAnswer: the connection was accepted but no answer came in time.
	KindNoAnswer Kind = "no-answer"
	// KindNotFound: the object asked for does not exist.
	KindNotFound Kind = "not-found"
	// KindDaemon: the daemon answered with an error.
	KindDaemon Kind = "daemon"
	// KindLocal: the self-test could not do its own part (read the probe
	// binary); the runtime was not at fault.
	KindLocal Kind = "local"
)

// Error is an error of the runtime or of the conversation with it.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err, or "" when it is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

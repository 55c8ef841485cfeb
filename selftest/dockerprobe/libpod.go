package dockerprobe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
)

// LibpodAPI is the libpod API version the podman requests are pinned
// to: the minimum podman 4 serves (containers/podman version/version.go,
// ApiVersion[LibpodTree][MinimalApiVersion] is 4.0.0), so any podman >= 4
// answers them.
const LibpodAPI = "v4.0.0"

// importLibpod makes the probe image through podman's own
// POST /libpod/images/import (reference, message and changes as query
// parameters, the layer as the body; it answers {"Id": "sha256:..."}).
// Podman's Docker-compatible POST /images/create?fromSrc=- imports the
// same layer, but podman 4.3 stages the upload as api_load.tar* in its
// TMPDIR (/var/tmp) and never removes it: 18 MB left behind by every
// run, measured against Debian's podman 4.3.1. The libpod endpoint
// removes what it staged.
func (c *Client) importLibpod(ctx context.Context, binary, ref string, changes []string) (string, error) {
	q := url.Values{}
	q.Set("reference", ref)
	q.Set("message", "atomic-selftest probe")
	for _, ch := range changes {
		q.Add("changes", ch)
	}
	pr, pw := io.Pipe()
	writeErr := make(chan error, 1)
	go func() {
		err := probe.WriteLayer(pw, binary)
		pw.CloseWithError(err)
		writeErr <- err
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://podman/"+LibpodAPI+"/libpod/images/import?"+q.Encode(), pr)
	if err != nil {
		pr.CloseWithError(err)
		<-writeErr
		return "", &Error{Kind: KindLocal, Err: fmt.Errorf("importing the probe image: %w", err)}
	}
	req.Header.Set("Content-Type", "application/x-tar")
	res, err := c.raw().Do(req)
	pr.Close()
	werr := <-writeErr
	if werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		if res != nil {
			res.Body.Close()
		}
		return "", &Error{Kind: KindLocal, Err: fmt.Errorf("making the probe layer: %w", werr)}
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", c.explain("importing the probe image", ctx, 0, ctx.Err())
		}
		return "", &Error{Kind: KindUnreachable, Err: fmt.Errorf("importing the probe image: cannot connect to podman at %s: %w", c.Socket, err)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxOutput))
	if err != nil {
		return "", c.explain("importing the probe image", ctx, 0, err)
	}
	if res.StatusCode != http.StatusOK {
		// libpod's errors are {"cause": ..., "message": ..., "response": code}.
		var e struct {
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return "", &Error{Kind: KindDaemon, Err: fmt.Errorf("importing the probe image: podman at %s answered %s: %s", c.Socket, res.Status, msg)}
	}
	var r struct {
		ID string `json:"Id"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.ID == "" {
		return "", &Error{Kind: KindDaemon, Err: fmt.Errorf("importing the probe image: podman's answer named no image: %q", body)}
	}
	return r.ID, nil
}

// waitLibpod waits for the container to stop through libpod's
// POST /libpod/containers/{id}/wait?condition=stopped and returns its exit
// code (the answer's body is the bare number). Podman 4.3's compatible
// wait answers late: 0.8 to 2.6 s after the probe exited, measured here,
// against 0.4 to 0.7 s for this one polling every 20 ms.
func (c *Client) waitLibpod(ctx context.Context, id string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://podman/"+LibpodAPI+"/libpod/containers/"+url.PathEscape(id)+"/wait?condition=stopped&interval=20ms", nil)
	if err != nil {
		return 0, &Error{Kind: KindLocal, Err: fmt.Errorf("waiting for the probe container: %w", err)}
	}
	res, err := c.raw().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, c.explain("waiting for the probe container", ctx, 0, ctx.Err())
		}
		return 0, &Error{Kind: KindUnreachable, Err: fmt.Errorf("waiting for the probe container: cannot connect to podman at %s: %w", c.Socket, err)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return 0, c.explain("waiting for the probe container", ctx, 0, err)
	}
	var code int64
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &code) != nil {
		return 0, &Error{Kind: KindDaemon, Err: fmt.Errorf("waiting for the probe container: podman at %s answered %s: %s", c.Socket, res.Status, strings.TrimSpace(string(body)))}
	}
	return code, nil
}

// raw is a plain HTTP client on the socket, for the requests the Engine
// API client does not make (libpod's, and the ping's headers).
func (c *Client) raw() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", c.Socket)
		},
		DisableKeepAlives: true,
	}}
}

package dockerprobe_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe"
	"github.com/atomic-selftest/atomic-selftest/selftest/dockerprobe/dockertest"
	"github.com/atomic-selftest/atomic-selftest/selftest/probe"
)

func TestMain(m *testing.M) { dockertest.Main(m) }

// TestProbeCycle runs the real probe through the real daemon and checks
// the sandbox the marker reports, then that nothing is left.
func TestProbeCycle(t *testing.T) {
	d := dockertest.Shared(t)
	c := d.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	self := dockerprobe.Self()
	nonce := probe.NewNonce()
	if _, err := c.ImportProbe(ctx, dockertest.ProbeBinary(t), nonce, self); err != nil {
		t.Fatal(err)
	}
	defer c.RemoveImage(ctx, dockerprobe.ImageRef(nonce), false)
	out := runSandboxed(t, ctx, c, nonce, self)
	if out.Timings.Create <= 0 || out.Timings.Start <= 0 || out.Timings.Remove <= 0 {
		t.Errorf("timings not measured: %+v", out.Timings)
	}
	if err := c.RemoveImage(ctx, dockerprobe.ImageRef(nonce), false); err != nil {
		t.Fatal(err)
	}
	owned, err := c.ListOwned(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range owned.Containers {
		if strings.Contains(name, nonce) || o == self.String() {
			t.Errorf("container %s left behind", name)
		}
	}
	for id, o := range owned.Images {
		if o == self.String() {
			t.Errorf("image %s left behind", id)
		}
	}
}

// runSandboxed runs the probe of nonce and fails t unless it exited 0 and
// its marker proves the sandbox: pid 1, read-only root, no network, its
// host name, uid 65534.
func runSandboxed(t *testing.T, ctx context.Context, c *dockerprobe.Client, nonce string, self dockerprobe.Owner) *dockerprobe.Outcome {
	t.Helper()
	out, err := c.RunProbe(ctx, dockerprobe.Spec{Image: dockerprobe.ImageRef(nonce), Nonce: nonce, Owner: self})
	if err != nil || out.ExitCode != 0 {
		t.Fatalf("RunProbe: %v, exit %d (stderr %q)", err, out.ExitCode, out.Stderr)
	}
	m, err := probe.Parse(out.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	if p := probe.Verify(m, probe.Want{Nonce: nonce, ReadOnly: true, NoNetwork: true, Hostname: dockerprobe.Hostname(nonce)}); p != nil {
		t.Fatalf("probe problems: %q (marker %+v)", p, m)
	}
	if m.UID != 65534 {
		t.Errorf("probe uid %d, want 65534", m.UID)
	}
	return out
}

// TestLeftovers: probes of a dead owner are removed, those of a live
// owner (this process, or another running process) are kept.
func TestLeftovers(t *testing.T) {
	d := dockertest.Shared(t)
	c := d.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := dockertest.ProbeBinary(t)

	// A real process that is still alive, and one that has exited.
	live := exec.Command("sleep", "120")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { live.Process.Kill(); live.Wait() }()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	liveOwner := ownerOf(t, live.Process.Pid)
	deadOwner := dockerprobe.Owner{BootID: liveOwner.BootID, PID: dead.ProcessState.Pid(), StartTime: 1}
	oldBoot := dockerprobe.Owner{BootID: "0000-old-boot", PID: os.Getpid(), StartTime: dockerprobe.Self().StartTime}

	made := map[string]dockerprobe.Owner{}
	for _, o := range []dockerprobe.Owner{liveOwner, deadOwner, oldBoot, dockerprobe.Self()} {
		nonce := probe.NewNonce()
		if _, err := c.ImportProbe(ctx, bin, nonce, o); err != nil {
			t.Fatal(err)
		}
		// A created (never started) container is a leftover of a run
		// killed between create and start.
		api, err := c.API(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = api.ContainerCreate(ctx, clientCreate(nonce, o))
		if err != nil {
			t.Fatal(err)
		}
		made[nonce] = o
	}
	t.Cleanup(func() {
		for nonce := range made {
			c.RemoveContainer(context.Background(), dockerprobe.ContainerName(nonce))
			c.RemoveImage(context.Background(), dockerprobe.ImageRef(nonce), true)
		}
	})

	removed, err := c.RemoveLeftovers(ctx, dockerprobe.Self())
	if err != nil {
		t.Fatal(err)
	}
	owned, err := c.ListOwned(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for nonce, o := range made {
		name := dockerprobe.ContainerName(nonce)
		_, present := owned.Containers[name]
		wantPresent := o == liveOwner || o == dockerprobe.Self()
		if present != wantPresent {
			t.Errorf("container of owner %s: present %v, want %v (removed %q)", o, present, wantPresent, removed)
		}
		imgPresent := false
		for _, io := range owned.Images {
			if io == o.String() {
				imgPresent = true
			}
		}
		if imgPresent != wantPresent {
			t.Errorf("image of owner %s: present %v, want %v", o, imgPresent, wantPresent)
		}
	}
	// Another test binary's run may have removed some of the dead
	// owners' leftovers first; never more than those four.
	if len(removed) > 4 {
		t.Errorf("removed %q, want at most 2 containers and 2 images", removed)
	}
}

func ownerOf(t *testing.T, pid int) dockerprobe.Owner {
	t.Helper()
	o, err := dockerprobe.OwnerOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Alive() {
		t.Fatalf("owner %s of a running process is not alive", o)
	}
	return o
}

func clientCreate(nonce string, o dockerprobe.Owner) client.ContainerCreateOptions {
	s := dockerprobe.Spec{Image: dockerprobe.ImageRef(nonce), Nonce: nonce, Owner: o}
	return client.ContainerCreateOptions{Config: s.Config(), HostConfig: s.HostConfig(), Name: dockerprobe.ContainerName(nonce)}
}

func TestParseOwner(t *testing.T) {
	self := dockerprobe.Self()
	o, err := dockerprobe.ParseOwner(self.String())
	if err != nil || o != self {
		t.Fatalf("round trip: %v %v", o, err)
	}
	if !self.Alive() {
		t.Fatal("this process is not alive")
	}
	for _, bad := range []string{"", "a/b", "boot/x/1", "boot/1/x", "/1/1", "boot/0/1"} {
		if _, err := dockerprobe.ParseOwner(bad); err == nil {
			t.Errorf("ParseOwner(%q) succeeded", bad)
		}
	}
}

func FuzzParseOwner(f *testing.F) {
	f.Add("b/1/2")
	f.Add(dockerprobe.Self().String())
	f.Fuzz(func(t *testing.T, s string) {
		o, err := dockerprobe.ParseOwner(s)
		if err == nil {
			if _, err := dockerprobe.ParseOwner(o.String()); err != nil {
				t.Fatalf("%q parsed to %v which does not parse back: %v", s, o, err)
			}
		}
	})
}

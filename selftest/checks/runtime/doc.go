// Package runtime owns the container runtime checks: the runtime's
// service started properly and answers on its socket (runtime.service,
// C9), and it runs containers, through the Engine API (runtime.run, C8)
// and through `atomic run` (runtime.atomic-run, C8). The runtime is
// whatever speaks the Docker Engine API on [runtime] socket (docker, or a
// podman service); the unit is [runtime] unit. See selftest/dockerprobe
// for the probe container and how leftovers of killed runs are found.
package runtime

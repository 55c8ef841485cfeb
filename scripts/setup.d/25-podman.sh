# Podman for the runtime and storage checks' integration tests. No daemon
# is started here: each test starts its own `podman system service` on a
# private socket, with its storage, run root and TMPDIR in a directory of
# its own (selftest/dockerprobe/podmantest), and removes it afterwards.
# conmon and crun/runc come in as podman's dependencies; uidmap for its
# user namespace support; ATOMIC_SELFTEST_REQUIRE=all makes the podman
# tests fail, not skip, when podman is missing.
PACKAGES+=(podman conmon uidmap)

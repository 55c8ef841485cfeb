# Docker for the storage and runtime checks' integration tests: a private
# dockerd on its own unix socket, data root, exec root and pid file under
# the test state directory, with no network of its own (the probes run with
# --network none, and nothing is pulled: the probe image is imported).
#
# Exports ATOMIC_SELFTEST_DOCKER_SOCKET (unix:///…) for the tests; without
# it the tests start a private daemon of their own (selftest/dockerprobe/dockertest).
PACKAGES+=(docker.io runc containerd xfsprogs lvm2)
SETUPS+=(docker)

setup_docker() {
  local dir=$ATOMIC_SELFTEST_TEST_STATE/docker
  # The exec root holds the containerd shims' sockets, whose paths must
  # stay short (108 bytes for sun_path): keep it under /run, not in $dir.
  local exec_root
  exec_root=$(mktemp -d /run/atomic-selftest-docker.XXXXXX)
  mkdir -p "$dir/data"
  local sock=$exec_root/docker.sock
  dockerd --iptables=false --ip-masq=false --bridge=none \
    --host "unix://$sock" --data-root "$dir/data" --exec-root "$exec_root/exec" \
    --pidfile "$exec_root/docker.pid" \
    --containerd-namespace atomic-selftest-test --containerd-plugins-namespace atomic-selftest-test-plugins \
    >"$dir/dockerd.log" 2>&1 &
  local pid=$!
  on_exit "stop_docker $pid '$exec_root' '$dir'"
  local i
  for ((i = 0; i < 120; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$dir/dockerd.log" >&2
      echo "dockerd exited during start-up" >&2
      return 1
    fi
    if docker --host "unix://$sock" version >/dev/null 2>&1; then
      export ATOMIC_SELFTEST_DOCKER_SOCKET=unix://$sock
      log "dockerd $(docker --host "unix://$sock" version --format '{{.Server.Version}}') on $sock"
      return 0
    fi
    sleep 0.5
  done
  tail -n 30 "$dir/dockerd.log" >&2
  echo "dockerd did not answer on $sock within 60 s" >&2
  return 1
}

stop_docker() {
  local pid=$1 exec_root=$2 dir=$3 i
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 60; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
  # Mounts the daemon may have left (overlay layers, shm) would keep the
  # state directory from being removed.
  grep -o " $dir/[^ ]*\| $exec_root/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$exec_root"
}

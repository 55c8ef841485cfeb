# System containers (selftest/checks/syscontainer, selftest/ociimage): the
# real runc runs the probe container, and a Docker registry (Debian's
# docker-registry, the distribution project's registry) on a free loopback
# port is the docker:// source of the image copy tests.
PACKAGES+=(runc docker-registry curl)

setup_syscontainer() {
  local dir port i
  dir=$(mktemp -d "$state/registry.XXXXXX")
  # A free port: bind port 0 on loopback and read what the kernel chose.
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/config.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CONF
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  local pid=$!
  on_exit "kill $pid; wait $pid 2>/dev/null"
  for i in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
      export ATOMIC_SELFTEST_REGISTRY=127.0.0.1:$port
      log "registry on $ATOMIC_SELFTEST_REGISTRY"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/log" >&2
  log "the registry did not start"
  return 1
}
SETUPS+=(syscontainer)

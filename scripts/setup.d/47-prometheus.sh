# The fleet view (dist/prometheus, docs/fleet.md): promtool checks and
# unit-tests the rules and lints the host's Prometheus output
# (selftest/format, dist/prometheus), and dist/prometheus's fleet test
# starts its own node_exporter per simulated host, Prometheus and
# Alertmanager on free loopback ports. It never uses the packages' own
# services, which listen on the default ports where systemd starts them.
PACKAGES+=(prometheus prometheus-node-exporter prometheus-alertmanager)

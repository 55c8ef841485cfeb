# The outer driver's tests start their own sshd (Debian's openssh-server)
# on a free loopback port from Go, and use the real ostree command and
# libostree's Python bindings for the upgrade source and the rollback
# script. No daemon is started here.
PACKAGES+=(openssh-server ostree gir1.2-ostree-1.0 python3-gi)

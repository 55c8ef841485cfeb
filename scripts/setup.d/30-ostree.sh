# OSTree area (issue 3): the ostree command builds real sysroots in
# t.TempDir(); Debian's /usr/bin/python3 with python3-gi and libostree's
# introspection data reorders deployments (rollback) and serializes
# GVariants with GLib itself; rpm/rpmbuild make a real rpm database for
# deployment.expected; dbus-daemon is started privately by the
# rpm-ostree D-Bus test; chattr (e2fsprogs) clears ostree's immutable bit.
# No daemon to start here: the tests start and stop their own.
PACKAGES+=(ostree gir1.2-ostree-1.0 python3-gi rpm e2fsprogs dbus)

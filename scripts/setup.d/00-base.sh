# Base tools every suite uses: systemd-analyze for unit verification,
# pgrep (procps) for the tests that look for leftover processes,
# dbus-daemon for a private system bus.
PACKAGES+=(systemd dbus ca-certificates git procps)

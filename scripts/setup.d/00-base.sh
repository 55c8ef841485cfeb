# Base tools every suite uses: systemd-analyze for unit verification,
# dbus-daemon for a private system bus.
PACKAGES+=(systemd dbus ca-certificates git)

# Base tools every suite uses: systemd-analyze for unit verification,
# pgrep (procps) for the tests that look for leftover processes,
# dbus-daemon for a private system bus.
# systemd-journal-remote makes real journal files for the journal readers' tests
# (selftest/journal/journaltest).
PACKAGES+=(systemd dbus ca-certificates git procps systemd-journal-remote)

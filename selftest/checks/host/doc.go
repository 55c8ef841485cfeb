// Package host owns the checks of the host itself that every other area
// stands on: the boot reached its target with no failed unit (host.boot),
// and /var is writable and persistent while /usr is read-only on an OSTree
// host (host.var); and, beyond the release criteria (HOST), no watchdog
// reset the machine into this boot (host.watchdog), the machine id is
// valid (host.machineid), the rpm database reads (host.rpmdb) and sshd,
// where enabled, listens (host.sshd).
package host

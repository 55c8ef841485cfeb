// Package host owns the checks of the host itself that every other area
// stands on: the boot reached its target with no failed unit (host.boot),
// and /var is writable and persistent while /usr is read-only on an OSTree
// host (host.var).
package host

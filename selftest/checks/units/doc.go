// Package units owns the checks of systemd's units host-wide, not only
// the container runtime's: none is still activating from before the
// default target was reached (units.settled), and no service restarted in
// a loop this boot (units.restarts, NRestarts over D-Bus against
// [units] max_restarts), as kola's checkSystemdUnitStuck looks for
// (coreos-assembler mantle/platform/platform.go).
package units

// Package rpm holds the RPM packaging of atomic-selftest and its tests; it
// has no Go code of its own.
//
// The spec is atomic-selftest.spec at the top of the tree. This directory
// has what builds it: sources.sh (Source0, the tree, and Source1, the
// vendored modules, as reproducible tar.gz archives), build.sh (the SRPM
// and the binary RPMs with rpmbuild, offline, then rpmlint), the macros
// Debian's rpm lacks (macros.atomic-selftest, loaded for that build only),
// and rpmlint's configuration with every filter explained. The files the
// package installs besides the binaries and units (preset, tmpfiles.d
// entry, vendor configuration) are in dist/.
//
// The tests prove the package as a user receives it: they build it,
// install it into an empty root, and check the file list and modes, the
// static binary, its debug information, the units with systemd-analyze,
// the preset and the tmpfiles entry with systemd's own tools, and the
// vendor configuration with selftest/config.
package rpm

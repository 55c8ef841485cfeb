// Package syscontainer owns the system container checks (C10). System
// containers are the atomic CLI's: OCI images pulled into an OSTree
// repository (refs ociimage/<encoded name:tag>), checked out under
// /var/lib/containers/atomic/<name>.<0|1> with a <name> symlink to the
// live one, described by an "info" JSON file and a runtime-spec
// config.json, run by runc under a systemd service of the same name.
//
//   - syscontainer.installed reads that layout (the format of
//     Atomic/syscontainers.py in projectatomic/atomic) and the runc state
//     (state.json under runc's root) and names every broken container.
//   - syscontainer.run proves the whole path without the atomic CLI or a
//     network: the probe binary as an OCI image, copied with
//     containers/image into the self-test's own image store, unpacked into
//     a bundle, run by runc, verified by its marker and removed.
//   - syscontainer.atomic, when an image is configured, runs the atomic
//     CLI's own sequence: pull, install, start, uninstall.
package syscontainer

// Package storage owns the container storage checks (C2): what the host's
// files ask for (storage.config: docker-storage-setup's input and output,
// daemon.json, the runtime unit's command line, which must agree), and
// whether the running daemon uses it properly (storage.driver: the driver
// from GET /info, overlay2 on a filesystem with d_type and on XFS
// ftype=1, devicemapper on a real LVM thin pool with room left, and
// docker-storage-setup.service ended well).
package storage

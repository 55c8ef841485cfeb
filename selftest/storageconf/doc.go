// Package storageconf reads how a host's container storage is configured,
// each file in its owner's format: docker's unit file and the
// environment files it names (systemd.exec's EnvironmentFile=), dockerd's
// flags and daemon.json, docker-storage-setup's input and output, LVM's
// lvs report and dockerd's devicemapper status, containers-storage's
// storage.conf, and the filesystem facts overlay needs (d_type, XFS
// ftype). It is a library of the storage.* checks: it reads through
// rootfs.FS and decides nothing about a verdict.
package storageconf

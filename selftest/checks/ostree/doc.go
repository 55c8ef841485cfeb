// Package ostree owns the C1 checks of the OSTree sysroot: the host booted
// a deployment it can identify, with the sysroot, /usr, /etc and /var
// mounted the way ostree-prepare-root and ostree-remount set them up
// (ostree.booted), and the bootloader entries boot existing deployments
// with existing kernels, the default being the one that should boot next
// (ostree.bootloader). It reads the sysroot with the pure-Go reader in
// selftest/ostree and the mount table from /proc/self/mountinfo(5).
package ostree

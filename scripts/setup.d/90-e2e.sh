# The end-to-end VM suite (scripts/e2e.d/90-vm.sh): the image builder
# (outer/testbed/build.sh) and the QEMU transport (outer/qemu). No daemon:
# each test starts and stops its own QEMU.
PACKAGES+=(mmdebstrap ostree extlinux syslinux-common e2fsprogs fdisk cpio util-linux
  qemu-system-x86 qemu-utils genisoimage openssh-client)

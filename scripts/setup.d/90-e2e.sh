# The end-to-end VM suite (scripts/e2e.d/90-vm.sh): the image builder
# (outer/testbed/build.sh) and the QEMU transport (outer/qemu). No daemon:
# each test starts and stops its own QEMU.
PACKAGES+=(mmdebstrap ostree extlinux syslinux-common e2fsprogs fdisk cpio util-linux
  qemu-system-x86 qemu-utils genisoimage openssh-client
  ignition ovmf)
# ignition: ignition-validate checks the driver's Ignition configs
# (outer/qemu), and its dracut module (30ignition) goes into the testbed's
# Ignition variant. ovmf: the UEFI firmware of --qemu-firmware uefi.

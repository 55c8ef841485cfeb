# The end-to-end VM suite (scripts/e2e.d/90-vm.sh): the image builder
# (outer/testbed/build.sh) and the QEMU transport (outer/qemu). No daemon:
# each test starts and stops its own QEMU.
PACKAGES+=(mmdebstrap ostree extlinux syslinux-common e2fsprogs fdisk cpio util-linux
  qemu-system-x86 qemu-utils genisoimage openssh-client
  ignition policycoreutils ovmf)
# ignition: ignition-validate checks the driver's Ignition configs
# (outer/qemu), Ignition itself applies one to a root directory there, and
# its dracut module (30ignition) goes into the testbed's Ignition variant.
# policycoreutils: setfiles, which Debian's Ignition runs on what it wrote.
# ovmf: the UEFI firmware of --qemu-firmware uefi.

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
SETUPS+=(e2e_selinux)

# policycoreutils' postinst writes /etc/selinux/config with SELINUX=permissive
# and SELINUXTYPE=default although no policy is installed and this kernel
# runs without SELinux. libostree then loads that policy on every deployment
# write (`ostree admin deploy|pin --sysroot=...`: "With policy root
# '/etc/selinux/default': selabel_open ... No such file or directory") and
# the real-sysroot tests fail. On such a machine the file is made to say what
# is true: SELinux is disabled. A machine with a policy or with SELinux on
# is left alone.
setup_e2e_selinux() {
  if [ -f /etc/selinux/config ] && [ ! -e /sys/fs/selinux/enforce ] &&
    ! grep -qs '^SELINUX=disabled' /etc/selinux/config &&
    [ ! -d "/etc/selinux/$(sed -n 's/^SELINUXTYPE=//p' /etc/selinux/config)/contexts" ]; then
    sed -i 's/^SELINUX=.*/SELINUX=disabled/' /etc/selinux/config
  fi
}

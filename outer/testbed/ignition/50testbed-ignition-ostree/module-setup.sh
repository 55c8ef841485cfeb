#!/bin/bash
# testbed-ignition-ostree: the testbed's dracut module that lets Ignition
# (Debian's 30ignition) provision an OSTree deployment. Ignition writes
# under /sysroot, which after ostree-prepare-root is the deployment: its
# /etc is the deployment's own, but its /var is an empty directory that
# the stateroot's /var is mounted over after the switch root, so a home
# directory Ignition made there would vanish. This module bind-mounts the
# stateroot's /var onto /sysroot/var for Ignition's stages and fills it
# from tmpfiles.d (/var/home, /var/roothome), and unmounts it before the
# switch root. Fedora CoreOS does the same in its 40ignition-ostree module
# (ignition-ostree-mount-var.sh and ignition-ostree-populate-var.sh in
# coreos/fedora-coreos-config); this is a small equivalent, not a copy.

check() {
    # Only when asked for (dracut.conf.d/20-testbed-ignition.conf).
    return 255
}

depends() {
    echo ignition ostree
}

install() {
    inst_multiple findmnt mount umount realpath touch rm systemd-tmpfiles
    inst_script "$moddir/testbed-ignition-ostree-var.sh" /usr/sbin/testbed-ignition-ostree-var
    inst_simple "$moddir/testbed-ignition-ostree-var.service" \
        "$systemdsystemunitdir/testbed-ignition-ostree-var.service"
    # Pulled in only on Ignition's boot: ignition-complete.target is what
    # the ignition-generator adds to initrd.target when ignition.firstboot
    # is on the kernel command line.
    mkdir -p "$initdir/$systemdsystemunitdir/ignition-complete.target.requires"
    ln_r "../testbed-ignition-ostree-var.service" \
        "$systemdsystemunitdir/ignition-complete.target.requires/testbed-ignition-ostree-var.service"
}

#!/bin/bash
# testbed-ignition-ostree-var mount|umount: the stateroot's /var at
# /sysroot/var while Ignition runs (see module-setup.sh).
set -euo pipefail
stamp=/run/testbed-ignition-ostree-var.mounted

case ${1:-} in
mount)
    # ostree=/ostree/boot.N/<stateroot>/<bootcsum>/<serial> names the
    # deployment through a link in the physical root, which
    # ostree-prepare-root moved to /sysroot/sysroot.
    ostree=""
    for arg in $(</proc/cmdline); do
        case $arg in ostree=*) ostree=${arg#ostree=} ;; esac
    done
    [ -n "$ostree" ] || { echo "no ostree= on the kernel command line" >&2; exit 1; }
    deployment=$(realpath -e "/sysroot/sysroot$ostree")
    var=$(realpath -e "$deployment/../../var")
    if findmnt /sysroot/var >/dev/null; then
        echo "/sysroot/var is mounted already"
    else
        echo "mounting $var at /sysroot/var"
        mount --bind "$var" /sysroot/var
        touch "$stamp"
    fi
    # A new stateroot's /var is empty: create what tmpfiles.d declares
    # (the home directories Ignition's users go into among it), as the
    # first boot would.
    systemd-tmpfiles --create --boot --root=/sysroot --prefix=/var ||
        echo "systemd-tmpfiles --root=/sysroot --prefix=/var exited $?; carrying on" >&2
    ;;
umount)
    if [ -e "$stamp" ]; then
        umount /sysroot/var
        rm -f "$stamp"
    fi
    ;;
*)
    echo "usage: $0 mount|umount" >&2
    exit 2
    ;;
esac

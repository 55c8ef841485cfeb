#!/bin/sh
# ignition-firstboot-complete: disarm Ignition once it ran. Ignition runs
# on a boot whose kernel command line has ignition.firstboot (its dracut
# generator). Fedora CoreOS's GRUB adds it while /boot/ignition.firstboot
# exists and coreos-ignition-firstboot-complete.service removes that
# stamp after the first boot; the testbed boots with extlinux, which has
# no conditionals, so the argument is in the deployment's boot entry and
# this removes it there: the booted deployment's kernel arguments are set
# again without it (ostree admin instutil set-kargs writes a new boot
# entry; ignition.platform.id=qemu stays, as on Fedora CoreOS).
set -eu
# Writable in this unit's mount namespace only (PrivateMounts=yes).
for m in /sysroot /boot; do
  if findmnt -n -o OPTIONS "$m" | grep -qE '(^|,)ro(,|$)'; then mount -o remount,rw "$m"; fi
done
booted=""
for arg in $(cat /proc/cmdline); do
  case $arg in ostree=*) booted=$arg ;; esac
done
[ -n "$booted" ] || { echo "no ostree= on the kernel command line" >&2; exit 1; }
for entry in /boot/loader/entries/*.conf; do
  opts=$(sed -n 's/^options //p' "$entry")
  case " $opts " in *" $booted "*) ;; *) continue ;; esac
  set --
  for arg in $opts; do
    case $arg in ignition.firstboot | ostree=*) ;; *) set -- "$@" "$arg" ;; esac
  done
  echo "$entry: kernel arguments without ignition.firstboot: $*"
  exec ostree admin instutil set-kargs "$@"
done
echo "no boot entry has $booted" >&2
exit 1

#!/usr/bin/env bash
# build.sh: builds the end-to-end test host, a real OSTree-based Debian 12
# VM disk image, and prints the directory that holds it.
#
# What comes out (in $CACHE/image-<hash>/):
#   disk.img      raw disk: MBR (syslinux mbr.bin), one bootable ext4 partition
#                 holding an OSTree sysroot (ostree admin init-fs/os-init/deploy)
#                 with /boot/syslinux/syslinux.cfg -> ../loader/syslinux.cfg, so
#                 every `ostree admin deploy/upgrade` rewrites what extlinux boots.
#   testbed.json  the ref, the stateroot, the remote and the commits (oldest
#                 first) with their checksums and version labels, and which
#                 commit the image has deployed.
#   build.log     the build's log.
#
# The tree is Debian 12 made OSTree-ready the way OSTree-based distributions
# adapt theirs: /etc moved to /usr/etc, the kernel and initramfs (dracut with
# its ostree module, so it has ostree-prepare-root) under
# /usr/lib/modules/<kver>/, /var left empty and recreated by tmpfiles,
# /home, /root, /opt, /srv, /mnt and /usr/local as links into /var, /sysroot
# and /ostree -> sysroot/ostree. Three commits go on one ref, each with a
# `version` label and a visible difference (/usr/lib/atomic-selftest-testbed/
# release, and v3 adds a file):
#   v1 (oldest)  something to `deploy` back to
#   v2           deployed in the image: the baseline boot
#   v3 (newest)  what `ostree admin upgrade` finds
# Each also has its own ref atomic-selftest-testbed/<version>, which keeps
# the history whole through ostree's pruning. A fourth commit, 12.4 on its
# own ref atomic-selftest-testbed/bad only (not on the branch, so upgrades
# never find it), is 12.3 with docker.service and docker.socket masked: a
# deployment whose container runtime is broken, for the health-driven
# rollback (issue 12).
# /sysroot is read-only on the running host (sysroot.readonly in the repo's
# config, which ostree-remount.service applies), as on Fedora's OSTree hosts:
# ostree admin and libostree write from a mount namespace of their own.
# With --health every commit also has the [health] configuration
# (/usr/lib/atomic-selftest/config.d/50-testbed-health.toml: on a failing
# boot self-test, reboot once, and on a second failing boot roll back with
# the libostree rollback script installed as
# /usr/libexec/atomic-selftest-testbed/ostree-rollback) and the opt-in
# boot-complete.target gate enabled, with a stand-in for
# systemd-bless-boot.service that pulls the target in. It is
# a switch because a self-test that does not know [health] refuses the
# configuration. Every commit has /usr/libexec/atomic-selftest-testbed/
# break-pending (outer/testbed/break-pending.py), which the cycle uses to
# break a pending deployment's initramfs and put it back.
# The sysroot's repo is its own release server: the remote "testbed" points
# at file:///ostree/repo and publishes the ref at v3 under refs/heads, while
# the deployed origin tracks testbed:<ref> (refs/remotes/testbed/<ref> at v2),
# so an upgrade inside the guest pulls v3 without any network server.
#
# The atomic-selftest binary and units are installed the way the RPM installs
# them (/usr/bin, /usr/lib/systemd/system, the boot service and the path unit
# enabled); with --rpm the RPM itself is installed with `rpm -i --root`.
#
# Caching: the Debian root file system (mmdebstrap, the slow part) is cached
# by a hash of the package list and the code that makes it; the image by a
# hash of that plus this script, the binary/RPM, the units and --health.
# A second run with the same inputs prints the cached directory at once.
#
# With --ignition the image is provisioned by Ignition instead of cloud-init
# (issue 25): no cloud-init in the tree; Debian's ignition package and its
# dracut module (30ignition) in the initramfs, with the testbed's own module
# outer/testbed/ignition/50testbed-ignition-ostree (the stateroot's /var at
# /sysroot/var while Ignition writes); ignition.firstboot and
# ignition.platform.id=qemu on the image's kernel command line, and
# testbed-ignition-firstboot-complete.service taking ignition.firstboot off
# again once Ignition ran; sshd reading ~/.ssh/authorized_keys.d/ignition.
# testbed.json's "provision" says which.
#
# Usage: build.sh [--cache-dir DIR] [--binary FILE] [--units DIR] [--rpm FILE]
#                 [--health] [--ignition] [--force]
#        build.sh [--cache-dir DIR] --base-only
# --base-only makes (or finds) the cached Debian root file system and stops:
# it needs neither the binary nor the RPM, so scripts/test.sh runs it in the
# background while the Go tests run (it is mostly apt downloads and dpkg).
# Environment: ATOMIC_SELFTEST_TESTBED_CACHE (default
#   /var/cache/atomic-selftest-testbed), DEBIAN_MIRROR (default
#   http://deb.debian.org/debian).
# Needs root, mmdebstrap, ostree, extlinux (package extlinux), syslinux-common
# (mbr.bin), e2fsprogs, util-linux (losetup, sfdisk).
#
# Exit status: 0 built or reused, 1 build failed, 2 bad usage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${ATOMIC_SELFTEST_TESTBED_CACHE:-/var/cache/atomic-selftest-testbed}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
binary=""
units="$top/units"
rpmfile=""
health=0
ignition=0
force=0
base_only=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; }
die() { echo "build.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case $1 in
    --cache-dir) cache=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --units) units=$2; shift 2 ;;
    --rpm) rpmfile=$2; shift 2 ;;
    --health) health=1; shift ;;
    --ignition) ignition=1; shift ;;
    --force) force=1; shift ;;
    --base-only) base_only=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap, loop devices, mount)"
for t in mmdebstrap ostree extlinux mkfs.ext4 losetup sfdisk sha256sum cpio blkid; do
  command -v "$t" >/dev/null || die "$t not found"
done
[ -f /usr/lib/EXTLINUX/mbr.bin ] || [ -f /usr/lib/syslinux/mbr/mbr.bin ] || die "mbr.bin not found (install syslinux-common)"
mbr=/usr/lib/EXTLINUX/mbr.bin; [ -f "$mbr" ] || mbr=/usr/lib/syslinux/mbr/mbr.bin

# The binary: given, or built from this checkout (static, like the RPM's).
if [ "$base_only" = 0 ] && [ -z "$rpmfile" ] && [ -z "$binary" ]; then
  binary=$(mktemp /tmp/atomic-selftest-testbed-bin.XXXXXX)
  binary_tmp=$binary
  trap 'rm -f "$binary_tmp"' EXIT
  (cd "$top" && CGO_ENABLED=0 go build -trimpath -o "$binary" ./cmd/atomic-selftest) || die "building the atomic-selftest binary"
fi
[ -z "$binary" ] || [ -f "$binary" ] || die "--binary $binary: no such file"
[ -z "$rpmfile" ] || [ -f "$rpmfile" ] || die "--rpm $rpmfile: no such file"
[ -d "$units" ] || die "--units $units: no such directory"

# Packages of the test host (podman too: the runtime checks run against both
# engines on the VM). dracut (not initramfs-tools) because Debian's
# dracut adds its ostree module, which puts ostree-prepare-root in the initramfs.
packages=(systemd systemd-sysv udev dbus linux-image-amd64 dracut
  ostree ostree-boot docker.io runc podman cloud-init openssh-server
  python3-gi gir1.2-ostree-1.0 iproute2 e2fsprogs ca-certificates sudo procps less
  rpm) # rpm: the self-test's RPM is installed with it, and it reads the rpmdb

ign=$here/ignition
# --- the Ignition variant (issue 25): begin ---
# No cloud-init; Ignition with the dracut modules its 30ignition needs
# (depends(): qemu systemd url-lib network; url-lib and network are
# dracut-network's, url-lib wants curl). Debian builds Ignition with SELinux
# relabeling on: its files stage reads SELINUXTYPE= from the root's
# /etc/selinux/config and runs setfiles with that policy's file_contexts
# on what it wrote (RelabelFiles in internal/exec/util/selinux.go), and
# fails the boot without them. So the variant has Debian's policy
# (selinux-policy-default, whose postinst builds file_contexts, and
# policycoreutils' setfiles, which 30ignition puts into the initramfs),
# configured SELINUX=disabled and booted with selinux=0: the labels are
# written, SELinux does not run (as in the cloud-init image, where no
# policy is loaded either). The base's initramfs is made
# again once every package is in, with 30ignition, the testbed's own
# module and qemu_fw_cfg (Ignition's qemu platform reads its config from
# /sys/firmware/qemu_fw_cfg).
base_hooks=()
if [ "$ignition" = 1 ]; then
  kept=()
  for p in "${packages[@]}"; do [ "$p" = cloud-init ] || kept+=("$p"); done
  packages=("${kept[@]}" ignition dracut-network curl selinux-policy-default)
  base_hooks=(
    --customize-hook="cp -r '$ign/50testbed-ignition-ostree' \"\$1/usr/lib/dracut/modules.d/\""
    --customize-hook='printf "add_dracutmodules+=\" ignition testbed-ignition-ostree \"\nadd_drivers+=\" qemu_fw_cfg \"\n" >"$1/etc/dracut.conf.d/20-testbed-ignition.conf"'
    --customize-hook='kver=$(ls "$1/usr/lib/modules" | sort -V | tail -1) && chroot "$1" dracut --force --kver "$kver" "/boot/initrd.img-$kver"'
  )
fi
# --- the Ignition variant: end ---
base_version=1 # bump when the mmdebstrap recipe below changes
base_key=$(
  {
    printf '%s\n' "$base_version" "$mirror" "${packages[@]}" "${base_hooks[@]}"
    [ "$ignition" = 0 ] || (cd "$ign" && find 50testbed-ignition-ostree -type f -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16)
hash_inputs() {
  {
    echo "$base_key" "$health" "$ignition"
    [ "$ignition" = 0 ] || (cd "$ign" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    sha256sum "$0" "$here/../family/rollback.py" "$here/break-pending.py"
    [ -z "$binary" ] || sha256sum <"$binary"
    [ -z "$rpmfile" ] || sha256sum <"$rpmfile"
    (cd "$units" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
}
image_key=$(hash_inputs)
out=$cache/image-$image_key
base=$cache/base-$base_key.tar
mkdir -p "$cache"
chmod 0700 "$cache"

if [ "$base_only" = 0 ] && [ "$force" = 0 ] && [ -f "$out/testbed.json" ] && [ -f "$out/disk.img" ]; then
  echo "build.sh: reusing $out" >&2
  echo "$out"
  exit 0
fi

# One build at a time per cache directory.
exec 9>"$cache/.lock"
flock -w 3600 9 || die "timed out waiting for $cache/.lock"

t0=$(date +%s)
phase() { echo "==> testbed: $* ($(( $(date +%s) - t0 ))s)" >&2; }

# --- Stage A: the Debian root file system -------------------------------
if [ ! -f "$base" ]; then
  phase "mmdebstrap bookworm (${#packages[@]} packages) -> $base"
  inc=$(IFS=,; echo "${packages[*]}")
  # hostonly=no: the initramfs is made in a chroot, not on the machine it
  # boots; it must carry the virtio and ext4 drivers.
  mmdebstrap --mode=root --variant=minbase --format=tar --include="$inc" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --setup-hook='mkdir -p "$1/etc/dracut.conf.d" && printf "hostonly=no\nadd_drivers+=\" virtio_blk virtio_pci virtio_net ext4 \"\ncompress=gzip\n" > "$1/etc/dracut.conf.d/10-testbed.conf"' \
    --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' "${base_hooks[@]}" \
    bookworm "$base.tmp.tar" "$mirror" >&2 || { rm -f "$base.tmp.tar"; die "mmdebstrap failed"; }
  mv "$base.tmp.tar" "$base"
  phase "base done"
else
  phase "reusing $base"
fi
if [ "$base_only" = 1 ]; then
  echo "$base"
  exit 0
fi

# --- Stage B: the OSTree tree, commits and disk image -------------------
work=$(mktemp -d "$cache/work.XXXXXX")
mnt=$work/mnt
loopdev=""
cleanup() {
  set +e
  if mountpoint -q "$mnt"; then umount "$mnt" || umount -l "$mnt"; fi
  [ -z "$loopdev" ] || losetup -d "$loopdev"
  # ostree marks deployment roots immutable.
  [ -d "$work" ] && { chattr -R -i "$work" 2>/dev/null; rm -rf "$work"; }
  [ -z "${binary_tmp:-}" ] || rm -f "$binary_tmp"
}
trap cleanup EXIT INT TERM

root=$work/rootfs
mkdir -p "$root" "$mnt"
phase "unpacking the base"
tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -xf "$base"

phase "installing atomic-selftest ($([ -n "$rpmfile" ] && echo "rpm $rpmfile" || echo "binary"))"
if [ -n "$rpmfile" ]; then
  # The rpm database goes under /usr (/usr/share/rpm, where rpm-ostree keeps
  # it on Fedora Atomic): /var is emptied below. --nodeps because Debian's
  # packages are not in the rpmdb; --noscripts because the scriptlets call
  # systemctl and systemd-tmpfiles on a live host: their effect is below
  # (the preset the RPM ships; tmpfiles run at boot).
  rpm --root "$root" --dbpath /usr/share/rpm --initdb
  rpm --root "$root" --dbpath /usr/share/rpm -i --nodeps --noscripts "$rpmfile"
  systemctl --root="$root" preset atomic-selftest.service atomic-selftest-deployment.path >&2
else
  install -D -m 0755 "$binary" "$root/usr/bin/atomic-selftest"
  for u in "$units"/*.service "$units"/*.path "$units"/*.timer; do
    [ -e "$u" ] || continue
    install -D -m 0644 "$u" "$root/usr/lib/systemd/system/$(basename "$u")"
  done
  # As the RPM's preset enables them: the boot run and the deployment watch.
  systemctl --root="$root" enable atomic-selftest.service atomic-selftest-deployment.path >&2
fi
for u in atomic-selftest.service atomic-selftest-deployment.path; do
  [ -e "$root/usr/lib/systemd/system/$u" ] || die "unit $u is not in the tree"
  [ "$(systemctl --root="$root" is-enabled "$u" 2>/dev/null)" = enabled ] || die "unit $u is not enabled in the tree"
done
systemctl --root="$root" enable systemd-networkd.service >&2
install -D -m 0755 "$here/break-pending.py" "$root/usr/libexec/atomic-selftest-testbed/break-pending"
if [ "$health" = 1 ]; then
  install -D -m 0755 "$here/../family/rollback.py" "$root/usr/libexec/atomic-selftest-testbed/ostree-rollback"
  mkdir -p "$root/usr/lib/atomic-selftest/config.d"
  cat >"$root/usr/lib/atomic-selftest/config.d/50-testbed-health.toml" <<'EOF'
# The testbed's health policy (outer/testbed/build.sh --health): a boot whose
# self-test fails reboots the same deployment once, and when that boot fails
# too, rolls back to the previous deployment.
[health]
on_failure = "rollback"
reboot_attempts = 1
rollback_command = ["python3", "/usr/libexec/atomic-selftest-testbed/ostree-rollback"]
EOF
  # The opt-in boot-complete.target gate (docs/health.md), turned on as an
  # admin does: the drop-in the package ships, then `enable`, which links
  # the unit into boot-complete.target.requires/. On extlinux nothing
  # starts boot-complete.target (systemd-bless-boot.service pulls it in
  # only on systemd-boot with boot counting), so the testbed has a
  # stand-in for that blesser with its dependencies (systemd's
  # units/systemd-bless-boot.service.in): Requires= and After=
  # boot-complete.target, and DefaultDependencies=no. Without the last,
  # multi-user.target, which wants it, would be ordered after it (a
  # target's implicit After= on what it wants), and so after
  # boot-complete.target and the self-test, which is after
  # multi-user.target: the ordering cycle greenboot's units make (its
  # first VM run showed systemd breaking it by deleting the target's job).
  # A failing boot's run fails the target's start; a good boot reaches it.
  gate=$root/usr/lib/atomic-selftest/boot-complete.conf
  [ -f "$gate" ] || gate=$units/boot-complete.conf
  [ -f "$gate" ] || die "no boot-complete.conf in the package or $units"
  install -D -m 0644 "$gate" "$root/etc/systemd/system/atomic-selftest.service.d/boot-complete.conf"
  printf '%s\n' '[Unit]' 'Description=testbed stand-in for systemd-bless-boot: marks the boot good once boot-complete.target is reached' \
    'DefaultDependencies=no' 'Requires=boot-complete.target' 'After=local-fs.target boot-complete.target' \
    'Conflicts=shutdown.target' 'Before=shutdown.target' '' '[Service]' 'Type=oneshot' 'RemainAfterExit=yes' \
    'ExecStart=/bin/echo boot blessed' '' '[Install]' 'WantedBy=multi-user.target' \
    >"$root/usr/lib/systemd/system/atomic-selftest-testbed-bless.service"
  systemctl --root="$root" enable atomic-selftest.service atomic-selftest-testbed-bless.service >&2
  [ -L "$root/etc/systemd/system/boot-complete.target.requires/atomic-selftest.service" ] ||
    die "enable did not link atomic-selftest.service into boot-complete.target.requires"
fi

# --- the operator's own check (issue 23): begin ---
# A site check as an admin drops it into /etc (in the commit: /usr/etc, which
# ostree merges into every deployment's /etc). It passes on 12.1 to 12.3 and
# fails on the bad 12.4, whose overlay carries new-in-12.4, so the bad boot's
# rollback reason names site.testbed-release beside the runtime checks.
install -d -m 0755 "$root/etc/atomic-selftest/check.d/required"
cat >"$root/etc/atomic-selftest/check.d/required/testbed-release" <<'EOF'
#!/bin/sh
# site.testbed-release: this host must not run the testbed's bad release.
. /usr/lib/atomic-selftest-testbed/release
echo "testbed release $VERSION"
if [ -e /usr/lib/atomic-selftest-testbed/new-in-12.4 ]; then
  echo "release $VERSION is the known-bad one" >&2
  exit 1
fi
EOF
chmod 0755 "$root/etc/atomic-selftest/check.d/required/testbed-release"
# --- the operator's own check (issue 23): end ---

phase "making the tree OSTree-ready"
# Networking: DHCP on the first ethernet device (QEMU's user-mode network).
cat >"$root/etc/systemd/network/20-testbed.network" <<'EOF'
[Match]
Name=en* eth*
[Network]
DHCP=yes
EOF
# cloud-init's locale module would set en_US.UTF-8, which is not generated
# in this tree, and fail cloud-config.service; C.UTF-8 is built into glibc.
# The seed is always NoCloud: naming it spares cloud-init's crawl of every
# other data source, which costs a minute per boot under TCG.
if [ "$ignition" = 0 ]; then
  printf 'locale: C.UTF-8\ndatasource_list: [ NoCloud, None ]\n' >"$root/etc/cloud/cloud.cfg.d/90-atomic-selftest-testbed.cfg"
fi
# --- the Ignition variant (issue 25): begin ---
if [ "$ignition" = 1 ]; then
  [ ! -e "$root/usr/bin/cloud-init" ] || die "the Ignition variant has cloud-init"
  install -D -m 0644 "$ign/40-testbed-ignition.conf" "$root/etc/ssh/sshd_config.d/40-testbed-ignition.conf"
  [ -s "$root/etc/selinux/default/contexts/files/file_contexts" ] || die "the Ignition variant has no SELinux file_contexts for Ignition's relabeling"
  printf '%s\n' '# The testbed'"'"'s Ignition variant: a policy for Ignition'"'"'s relabeling, not enforced.' \
    SELINUX=disabled SELINUXTYPE=default >"$root/etc/selinux/config"
  install -D -m 0755 "$ign/ignition-firstboot-complete.sh" "$root/usr/libexec/atomic-selftest-testbed/ignition-firstboot-complete"
  install -D -m 0644 "$ign/testbed-ignition-firstboot-complete.service" "$root/usr/lib/systemd/system/testbed-ignition-firstboot-complete.service"
  systemctl --root="$root" enable testbed-ignition-firstboot-complete.service >&2
  # Ignition enables a config's units through a preset file
  # (/etc/systemd/system-preset/20-ignition.preset), which systemd applies
  # on the first boot only: when /etc/machine-id says "uninitialized"
  # (machine-id(5)); an empty one is no first boot. Presets then only
  # enable, and "disable *" keeps them to what a preset file names, as
  # Fedora's 99-default-disable.preset does. systemd-firstboot would ask
  # for a locale and a root password on the console of a first boot:
  # masked, as Fedora CoreOS leaves it out.
  printf 'uninitialized\n' >"$root/etc/machine-id"
  printf '%s\n' '# testbed Ignition variant: presets enable only what a preset file names.' 'disable *' \
    >"$root/usr/lib/systemd/system-preset/99-testbed-default-disable.preset"
  systemctl --root="$root" mask systemd-firstboot.service >&2
fi
# --- the Ignition variant: end ---
[ "$ignition" = 1 ] || printf '' >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
echo localhost >"$root/etc/hostname"
# Empty fstab: ostree-prepare-root mounts the sysroot and bind-mounts /boot
# (same partition) into the deployment.
printf '# managed by ostree; / and /boot come from ostree-prepare-root\n' >"$root/etc/fstab"
# No root password; logins are by the cloud-init injected key.
kver=$(ls "$root/usr/lib/modules" | sort -V | tail -1)
[ -n "$kver" ] || die "no kernel in the tree"
[ -f "$root/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in the tree"
initrd=""
for f in "$root/boot/initrd.img-$kver" "$root/boot/initramfs-$kver.img"; do
  [ -f "$f" ] && initrd=$f && break
done
[ -n "$initrd" ] || die "no initramfs for $kver in the tree"
cp "$root/boot/vmlinuz-$kver" "$root/usr/lib/modules/$kver/vmlinuz"
cp "$initrd" "$root/usr/lib/modules/$kver/initramfs.img"
# (The listing is read whole: grep -q closing the pipe early would make
# cpio die of SIGPIPE and pipefail report that.)
listing=$(gzip -dc "$root/usr/lib/modules/$kver/initramfs.img" 2>/dev/null | cpio -t 2>/dev/null || true)
grep -q 'usr/lib/ostree/ostree-prepare-root' <<<"$listing" ||
  die "the initramfs has no ostree-prepare-root (dracut's ostree module missing)"
if [ "$ignition" = 1 ]; then
  for f in usr/bin/ignition usr/lib/systemd/system-generators/ignition-generator usr/sbin/testbed-ignition-ostree-var usr/sbin/setfiles qemu_fw_cfg.ko; do
    grep -q "$f" <<<"$listing" || die "the Ignition variant's initramfs has no $f"
  done
fi
rm -rf "${root:?}/boot"/*
# /var: a directory/symlink list for systemd-tmpfiles, then emptied; ostree
# gives every stateroot its own /var.
tmpf="$root/usr/lib/tmpfiles.d/atomic-selftest-testbed-var.conf"
{
  echo "# /var of the Debian tree, recreated on boot (atomic-selftest testbed)"
  (cd "$root" && find var -mindepth 1 \( -type d -o -type l \) -printf '%y /%p %m %u %g %l\n') |
    while read -r typ path mode user group link; do
      case $typ in
        d) echo "d $path $mode $user $group -" ;;
        l) echo "L $path - - - - $link" ;;
      esac
    done
  echo "d /var/home 0755 root root -"
  echo "d /var/roothome 0700 root root -"
  echo "d /var/opt 0755 root root -"
  echo "d /var/srv 0755 root root -"
  echo "d /var/mnt 0755 root root -"
  echo "d /var/usrlocal 0755 root root -"
  echo "d /var/usrlocal/bin 0755 root root -"
} >"$tmpf"
rm -rf "${root:?}/var"/*
for d in home root opt srv mnt; do rm -rf "${root:?}/$d"; done
ln -s var/home "$root/home"
ln -s var/roothome "$root/root"
ln -s var/opt "$root/opt"
ln -s var/srv "$root/srv"
ln -s var/mnt "$root/mnt"
rm -rf "$root/usr/local" && ln -s ../var/usrlocal "$root/usr/local"
mkdir -p "$root/sysroot"
ln -s sysroot/ostree "$root/ostree"
# No device nodes or API file systems in an OSTree commit.
rm -rf "${root:?}/dev"/* "${root:?}/proc"/* "${root:?}/sys"/* "${root:?}/run"/* "${root:?}/tmp"/*
mv "$root/etc" "$root/usr/etc"
mkdir -p "$root/usr/lib/atomic-selftest-testbed"

phase "disk image and sysroot"
img=$work/disk.img
truncate -s 6G "$img"
# One bootable primary partition from 1 MiB (sector 2048) to the end.
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$img" >&2
offset=$((2048 * 512))
loopdev=$(losetup -f --show -o "$offset" "$img")
mkfs.ext4 -q -L atomicroot -O ^metadata_csum_seed "$loopdev" >&2
uuid=$(blkid -s UUID -o value "$loopdev")
mount "$loopdev" "$mnt"
ostree admin init-fs "$mnt" >&2
repo=$mnt/ostree/repo
# /boot is on the root partition: BLS paths need the /boot prefix.
ostree --repo="$repo" config set sysroot.bootprefix true
# /sysroot read-only on the running host: ostree-remount.service reads this.
ostree --repo="$repo" config set sysroot.readonly true
ostree admin os-init --sysroot="$mnt" debian >&2
ref=debian/12/x86_64/testbed

commit() { # version subject tree-args...
  local v=$1 s=$2; shift 2
  ostree --repo="$repo" commit --branch="$ref" --subject="$s" \
    --add-metadata-string=version="$v" "$@" >/dev/null
  ostree --repo="$repo" rev-parse "$ref"
}
# Visible differences: the release file names the version; v3 adds a file.
overlay=$work/overlay
mk_overlay() { # version [extra]
  rm -rf "$overlay"; mkdir -p "$overlay/usr/lib/atomic-selftest-testbed"
  printf 'VERSION=%s\n' "$1" >"$overlay/usr/lib/atomic-selftest-testbed/release"
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" >"$overlay/usr/lib/atomic-selftest-testbed/new-in-$1"; fi
}
phase "commit 12.1"
mk_overlay 12.1
c1=$(commit 12.1 "testbed 12.1 (oldest)" --tree=dir="$root" --tree=dir="$overlay")
phase "commit 12.2"
mk_overlay 12.2
c2=$(commit 12.2 "testbed 12.2 (baseline)" --tree=ref="$c1" --tree=dir="$overlay")
phase "commit 12.3"
mk_overlay 12.3 "added in 12.3"
c3=$(commit 12.3 "testbed 12.3 (newest)" --tree=ref="$c2" --tree=dir="$overlay")
[ "$c1" != "$c2" ] && [ "$c2" != "$c3" ] || die "commits are not distinct"
phase "commit 12.4 (bad: docker masked) on atomic-selftest-testbed/bad"
# docker.service and docker.socket masked, as a commit carries the links
# `systemctl mask` makes (/etc is /usr/etc in a commit).
mk_overlay 12.4 "docker.service masked in 12.4"
mkdir -p "$overlay/usr/etc/systemd/system"
ln -s /dev/null "$overlay/usr/etc/systemd/system/docker.service"
ln -s /dev/null "$overlay/usr/etc/systemd/system/docker.socket"
# ---- issue 26: 12.4 also removes an admin's /var data: begin ----
# A tmpfiles.d rule that recursively removes /var/lib/testbed-admin-data at
# every boot of 12.4 (systemd-tmpfiles-setup.service runs --remove --boot):
# the kind of bad release that deletes what an admin keeps in /var, which
# /var's sharing between deployments makes permanent. The cycle's mark keeps
# a file there before the upgrade to 12.4; after the host's rollback the
# driver's check-marks must name it lost (outer/testbed/ostree-cycle.toml,
# expect_var_lost; outer/qemu/cycle_carry_test.go).
mkdir -p "$overlay/usr/lib/tmpfiles.d"
printf '%s\n' '# testbed 12.4: a bad release removes the admin data (issue 26)' 'R /var/lib/testbed-admin-data' \
  >"$overlay/usr/lib/tmpfiles.d/testbed-admin-data.conf"
# ---- issue 26: 12.4 removes /var data: end ----
cbad=$(ostree --repo="$repo" commit --branch=atomic-selftest-testbed/bad --subject="testbed 12.4 (bad: docker.service masked)" \
  --add-metadata-string=version=12.4 --tree=ref="$c3" --tree=dir="$overlay")
# ---- issue 31: commit 12.5 (hang) for the boot deadline: begin ----
# 12.5 on its own ref atomic-selftest-testbed/hang only (like 12.4, never on
# the branch): 12.3 plus testbed-hang.service, a oneshot ordered before
# multi-user.target that never finishes starting, so atomic-selftest.service
# (after multi-user.target) never starts; the deadline timer enabled as the
# RPM's preset enables it; and [health] boot_deadline = "3m", so the deadline
# run judges the hung boot 3 minutes after it started and, under --health's
# rollback policy, rolls back (outer/qemu/cycle_deadline_test.go,
# outer/testbed/deadline-hang.toml). The ref is read on the guest; the
# commit is not in testbed.json.
phase "commit 12.5 (hang: a unit before multi-user.target never finishes) on atomic-selftest-testbed/hang"
mk_overlay 12.5 "testbed-hang.service hangs the boot in 12.5"
mkdir -p "$overlay/usr/lib/systemd/system" "$overlay/usr/etc/systemd/system/multi-user.target.wants" \
  "$overlay/usr/etc/systemd/system/timers.target.wants" "$overlay/usr/lib/atomic-selftest/config.d"
printf '%s\n' '[Unit]' 'Description=testbed 12.5: a unit that never finishes starting (issue 31)' 'Before=multi-user.target' '' \
  '[Service]' 'Type=oneshot' 'ExecStart=/usr/bin/sleep infinity' 'TimeoutStartSec=infinity' '' \
  '[Install]' 'WantedBy=multi-user.target' >"$overlay/usr/lib/systemd/system/testbed-hang.service"
ln -s /usr/lib/systemd/system/testbed-hang.service "$overlay/usr/etc/systemd/system/multi-user.target.wants/testbed-hang.service"
[ -e "$root/usr/lib/systemd/system/atomic-selftest-deadline.timer" ] || die "atomic-selftest-deadline.timer is not in the tree"
ln -s /usr/lib/systemd/system/atomic-selftest-deadline.timer "$overlay/usr/etc/systemd/system/timers.target.wants/atomic-selftest-deadline.timer"
printf '%s\n' '# testbed 12.5: judge a boot 3 minutes after it started (issue 31), and roll' \
  '# back from the first hung boot (the --health default retries once).' '[health]' 'boot_deadline = "3m"' 'reboot_attempts = 0' \
  >"$overlay/usr/lib/atomic-selftest/config.d/60-testbed-deadline.toml"
chang=$(ostree --repo="$repo" commit --branch=atomic-selftest-testbed/hang --subject="testbed 12.5 (hang: testbed-hang.service never finishes)" \
  --add-metadata-string=version=12.5 --tree=ref="$c3" --tree=dir="$overlay")
[ -n "$chang" ] || die "commit 12.5 (hang) failed"
# ---- issue 31: commit 12.5 (hang): end ----
# ---- issue 26: commit 12.6 (daemon.json not JSON): begin ----
# 12.6 on its own ref atomic-selftest-testbed/bad-daemon-json only (never on
# the branch): 12.3 plus an /etc/docker/daemon.json (/usr/etc in a commit)
# that is not JSON, on which dockerd refuses to start. The host's
# deployment-change run must catch it before any reboot: deployment.pending
# runs storage.config against the pending tree and its merged /etc, naming
# the file (outer/testbed/ostree-cycle.toml, ostree-bad-daemon-json-caught;
# outer/qemu/cycle_pending_test.go). Never booted. The ref is read on the
# guest; the commit is not in testbed.json.
phase "commit 12.6 (bad: /etc/docker/daemon.json is not JSON) on atomic-selftest-testbed/bad-daemon-json"
mk_overlay 12.6 "daemon.json broken in 12.6"
mkdir -p "$overlay/usr/etc/docker"
# An unfinished object: the kind of edit a release can ship by mistake.
printf '{\n  "storage-driver": "overlay2",\n' >"$overlay/usr/etc/docker/daemon.json"
cdj=$(ostree --repo="$repo" commit --branch=atomic-selftest-testbed/bad-daemon-json --subject="testbed 12.6 (bad: /etc/docker/daemon.json is not JSON)" \
  --add-metadata-string=version=12.6 --tree=ref="$c3" --tree=dir="$overlay")
[ -n "$cdj" ] || die "commit 12.6 (bad daemon.json) failed"
# ---- issue 26: commit 12.6 (daemon.json not JSON): end ----
# A ref per version, like a distribution's release refs: ostree's sysroot
# cleanup after every deployment change prunes what no ref head and no
# deployment holds (it walks refs at depth 0), which would drop 12.1's
# commit object and cut the branch's history short.
for v in 1 2 3; do
  c=c$v
  ostree --repo="$repo" refs --create="atomic-selftest-testbed/12.$v" "${!c}"
done

# The release server: remote "testbed" is this repo itself, refs/heads/$ref
# at the newest commit. The deployed origin follows refs/remotes/testbed/$ref.
ostree --repo="$repo" remote add --set=gpg-verify=false testbed file:///ostree/repo
ostree --repo="$repo" refs --create="testbed:$ref" "$c2"

phase "bootloader (extlinux, config from ostree's BLS entries)"
# ostree's syslinux backend rewrites the config it finds through that link,
# keeping its non-ostree lines: seed bootversion 0 with a header only.
mkdir -p "$mnt/boot/syslinux" "$mnt/boot/loader.0"
printf 'PROMPT 0\nTIMEOUT 1\n' >"$mnt/boot/loader.0/syslinux.cfg"
ln -s loader.0 "$mnt/boot/loader"
ln -s ../loader/syslinux.cfg "$mnt/boot/syslinux/syslinux.cfg"
# One console= only: ostree keeps one value per karg key (the last).
# No floppy: cloud-init and udev probing the empty drive cost 40 s.
# apparmor=0: Debian's kernel enables AppArmor, and dockerd then loads its
# profile with apparmor_parser, which the tree does not have; the hosts the
# self-test is for (Fedora Atomic) confine containers with SELinux instead.
kargs=(--karg="root=UUID=$uuid" --karg=rw --karg=console=ttyS0,115200n8 --karg=modprobe.blacklist=floppy --karg=apparmor=0)
# Ignition's first boot (--ignition): Ignition runs when ignition.firstboot
# is on the command line (30ignition's generator) and reads its config
# from the platform ignition.platform.id names.
# selinux=0: the variant's policy is for Ignition's relabeling only.
[ "$ignition" = 0 ] || kargs+=(--karg=ignition.platform.id=qemu --karg=ignition.firstboot --karg=selinux=0)
ostree admin deploy --sysroot="$mnt" --os=debian "${kargs[@]}" "testbed:$ref" >&2
# ostree admin deploy pinned the origin to testbed:$ref; check what it wrote.
cfg=$mnt/boot/loader/syslinux.cfg
[ -f "$cfg" ] || die "ostree wrote no $cfg"
grep -q "ostree=" "$cfg" || die "$cfg has no ostree entry: $(cat "$cfg")"
kpath=$(awk '$1=="KERNEL"{print $2; exit}' "$cfg")
[ -f "$mnt$kpath" ] || die "$cfg boots $kpath, which is not on the partition"
extlinux --install "$mnt/boot/syslinux" >&2 2>&1
[ -d "$mnt/ostree/deploy/debian/deploy/$c2.0" ] || die "ostree admin deploy did not deploy $c2 (12.2): $(ls "$mnt/ostree/deploy/debian/deploy")"
umount "$mnt"
losetup -d "$loopdev"; loopdev=""
dd if="$mbr" of="$img" bs=440 count=1 conv=notrunc status=none

phase "writing $out"
rm -rf "$out.tmp"; mkdir -p "$out.tmp"
mv "$img" "$out.tmp/disk.img"
cat >"$out.tmp/testbed.json" <<EOF
{
  "ref": "$ref",
  "remote": "testbed",
  "stateroot": "debian",
  "variant": "good",
  "kernel": "$kver",
  "root_uuid": "$uuid",
  "deployed": "$c2",
  "commits": [
    {"checksum": "$c1", "version": "12.1"},
    {"checksum": "$c2", "version": "12.2"},
    {"checksum": "$c3", "version": "12.3"}
  ],
  "bad": {"checksum": "$cbad", "version": "12.4", "ref": "atomic-selftest-testbed/bad"},
  "health": $([ "$health" = 1 ] && echo true || echo false),
  "provision": "$([ "$ignition" = 1 ] && echo ignition || echo cloud-init)",
  "build_seconds": $(( $(date +%s) - t0 ))
}
EOF
rm -rf "$out"; mv "$out.tmp" "$out"
# Keep the newest four images and two bases; a VM still running on an older
# image keeps its open file.
ls -dt "$cache"/image-* 2>/dev/null | grep -v '\.tmp$' | tail -n +5 | xargs -r rm -rf
ls -t "$cache"/base-*.tar 2>/dev/null | tail -n +3 | xargs -r rm -f
phase "done"
echo "$out"

# break-pending: on the testbed VM, moves the pending (default) BLS entry's
# initramfs aside ("break") or back ("restore"), and bumps the mtime of
# /sysroot/ostree/deploy the way libostree does after a deployment write,
# so atomic-selftest-deployment.path runs the self-test on the broken
# state. It works on the physical root (/sysroot: the testbed's /boot is
# on it; an entry's path is relative to /boot, with or without the /boot
# prefix ostree's sysroot.bootprefix adds), which may be read-only
# (sysroot.readonly): like libostree, it writes from a mount namespace of
# its own where /sysroot is remounted writable.
# Installed as /usr/libexec/atomic-selftest-testbed/break-pending by build.sh.
import ctypes
import glob
import os
import sys

CLONE_NEWNS, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 32, 4096, 16384, 1 << 18
libc = ctypes.CDLL(None, use_errno=True)


def check(rc, what):
    if rc != 0:
        sys.exit("%s: %s" % (what, os.strerror(ctypes.get_errno())))


def writable(mount):
    check(libc.unshare(CLONE_NEWNS), "unshare")
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    check(libc.mount(None, mount.encode(), None, MS_REMOUNT | MS_BIND, None), "remount %s rw" % mount)


def pending_initramfs(suffix):
    # The default entry is the one with the highest version.
    best = None
    for f in glob.glob("/sysroot/boot/loader/entries/*.conf"):
        keys = dict(l.split(None, 1) for l in open(f).read().splitlines() if " " in l)
        v = int(keys.get("version", "0").strip())
        if best is None or v > best[0]:
            best = (v, f, keys["initrd"].strip())
    if best is None:
        sys.exit("no BLS entries under /sysroot/boot/loader/entries")
    for root in ("/sysroot", "/sysroot/boot"):
        if os.path.exists(root + best[2] + suffix):
            return best[1], root + best[2]
    sys.exit("%s: initrd %s is in neither /sysroot nor /sysroot/boot" % (best[1], best[2]))


if len(sys.argv) != 2 or sys.argv[1] not in ("break", "restore"):
    sys.exit("usage: break-pending break|restore")
entry, initrd = pending_initramfs("" if sys.argv[1] == "break" else ".aside")
writable("/sysroot")
if sys.argv[1] == "break":
    os.rename(initrd, initrd + ".aside")
else:
    os.rename(initrd + ".aside", initrd)
os.utime("/sysroot/ostree/deploy")
print("%s: %s of %s" % (sys.argv[1], initrd, os.path.basename(entry)))

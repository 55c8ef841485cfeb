# RPM packaging (rpm/, atomic-selftest.spec): rpmbuild and rpm2cpio to build
# and unpack the packages, rpmlint to lint them, debugedit and elfutils
# (eu-strip) for find-debuginfo, cpio to unpack payloads, iproute2 to bring
# up the loopback inside the build's network namespace (unshare is in
# util-linux). The tests in rpm/ build, lint and install the RPMs; they need
# root for `unshare --net`. Nothing to start.
PACKAGES+=(rpm rpm2cpio rpmlint debugedit elfutils cpio iproute2 util-linux)

import sys
import gi
gi.require_version("OSTree", "1.0")
from gi.repository import Gio, OSTree
path = sys.argv[1] if len(sys.argv) > 1 else None
s = OSTree.Sysroot.new(Gio.File.new_for_path(path)) if path else OSTree.Sysroot.new_default()
# A booted host may mount /sysroot read-only (sysroot.readonly): as `ostree
# admin` does, write from a mount namespace of our own, where libostree
# remounts it writable.
if not path and hasattr(s, "initialize_with_mount_namespace"):
    s.initialize_with_mount_namespace(None)
s.lock()
try:
    s.load(None)
    deps = s.get_deployments()
    booted = s.get_booted_deployment()
    if len(deps) < 2:
        sys.exit("no rollback deployment: the sysroot has %d deployment(s)" % len(deps))
    # rpm-ostree's rollback: when the booted deployment is the default, the
    # next one becomes the default; when another (pending) one is the
    # default, the booted one goes back to the front.
    if booted is None or deps[0].equal(booted):
        new = [deps[1], deps[0]] + deps[2:]
    else:
        new = [booted] + [d for d in deps if not d.equal(booted)]
    s.write_deployments(new, None)
    print(new[0].get_csum())
finally:
    s.unlock()

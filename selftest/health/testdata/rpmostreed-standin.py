# A stand-in for rpmostreed on a private system bus, for tool_test.go.
#
# It serves the part of coreos/rpm-ostree's D-Bus API a rollback uses, as
# src/daemon/org.projectatomic.rpmostree1.xml declares it: the name
# org.projectatomic.rpmostree1; /org/projectatomic/rpmostree1/Sysroot with
# the property Booted (o); the OS object with Rollback(a{sv}) -> s, the
# address of a private peer-to-peer server; there the Transaction object
# "/" with Start() -> b and the signal Finished(b, s). Like rpmostreed's
# rollback transaction (src/daemon/rpmostreed-transaction-types.cxx) it
# moves the rollback deployment to the front with libostree's
# write_deployments, on the sysroot named by argv[1]. Each call is logged
# to argv[2]; argv[3] = "fail" makes the transaction finish unsuccessfully.
import os
import sys
import tempfile

import gi
gi.require_version("OSTree", "1.0")
from gi.repository import Gio, GLib, OSTree

SYSROOT, LOG, MODE = sys.argv[1], sys.argv[2], sys.argv[3]
OS_PATH = "/org/projectatomic/rpmostree1/fedora_atomic"

XML = """<node>
 <interface name="org.projectatomic.rpmostree1.Sysroot">
  <property name="Booted" type="o" access="read"/>
 </interface>
 <interface name="org.projectatomic.rpmostree1.OS">
  <method name="Rollback">
   <arg type="a{sv}" name="options" direction="in"/>
   <arg type="s" name="transaction_address" direction="out"/>
  </method>
 </interface>
 <interface name="org.projectatomic.rpmostree1.Transaction">
  <method name="Start"><arg type="b" name="started" direction="out"/></method>
  <signal name="Finished">
   <arg name="success" type="b"/><arg name="error_message" type="s"/>
  </signal>
 </interface>
</node>"""
INFO = Gio.DBusNodeInfo.new_for_xml(XML)
IFACE = {i.name.rsplit(".", 1)[1]: i for i in INFO.interfaces}


def log(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


def rollback():
    s = OSTree.Sysroot.new(Gio.File.new_for_path(SYSROOT))
    s.load(None)
    deps = s.get_deployments()
    if len(deps) < 2:
        return "no rollback deployment"
    s.write_deployments([deps[1], deps[0]] + deps[2:], None)
    return ""


servers = []


def on_transaction_call(conn, sender, path, iface, method, params, inv):
    log("Transaction.Start")
    inv.return_value(GLib.Variant("(b)", (True,)))
    err = "injected failure" if MODE == "fail" else rollback()
    conn.emit_signal(None, "/", "org.projectatomic.rpmostree1.Transaction", "Finished",
                     GLib.Variant("(bs)", (err == "", err)))


def on_new_connection(server, conn):
    conn.register_object("/", IFACE["Transaction"], on_transaction_call, None, None)
    servers.append(conn)
    return True


def on_os_call(conn, sender, path, iface, method, params, inv):
    log("OS.Rollback %s %s" % (path, params.unpack()[0]))
    d = tempfile.mkdtemp()
    server = Gio.DBusServer.new_sync("unix:tmpdir=" + d, Gio.DBusServerFlags.NONE,
                                     Gio.dbus_generate_guid(), None, None)
    server.connect("new-connection", on_new_connection)
    server.start()
    servers.append(server)
    inv.return_value(GLib.Variant("(s)", (server.get_client_address(),)))


def on_get_property(conn, sender, path, iface, prop):
    log("Sysroot.Booted")
    return GLib.Variant("o", OS_PATH)


bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
bus.register_object("/org/projectatomic/rpmostree1/Sysroot", IFACE["Sysroot"], None, on_get_property, None)
bus.register_object(OS_PATH, IFACE["OS"], on_os_call, None, None)


def on_name(conn, name):
    print("ready", flush=True)


Gio.bus_own_name_on_connection(bus, "org.projectatomic.rpmostree1", Gio.BusNameOwnerFlags.NONE, on_name, None)
GLib.MainLoop().run()

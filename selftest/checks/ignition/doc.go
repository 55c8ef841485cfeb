// Package ignition owns the Ignition check of C7 on Fedora CoreOS and the
// other Ignition-provisioned successors of Atomic Host
// (ignition.provisioned): Ignition ran to the end on the provisioning
// boot, and what can still be seen of what it was asked is done.
//
// After provisioning the config itself is gone from the host; what is
// left is Ignition's result file /etc/.ignition-result.json (boot id and
// date of the provisioning boot, whether a user config was given, the
// report of an earlier run), the ssh keys Ignition and Afterburn wrote
// as ~/.ssh/authorized_keys.d/ignition and .../afterburn, and the host
// name in /etc/hostname, and Ignition's journal entries of the
// provisioning boot: the key files it wrote and the configs it fetched
// (which must agree with the result file about a user config). Ignition
// writes no failure record: each of its
// stage units has OnFailure=emergency.target (dracut/30ignition/*.service
// in coreos/ignition), so a booted host with the result file is a host
// Ignition finished on.
package ignition

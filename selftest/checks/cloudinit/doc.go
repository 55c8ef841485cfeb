// Package cloudinit owns the cloud-init checks (C7): cloud-init ran to
// the end on this boot without errors (cloudinit.finished), and what the
// user asked for was done: the ssh keys are in the users' authorized_keys
// (cloudinit.sshkey), the host name is set (cloudinit.hostname), the user
// scripts ran (cloudinit.scripts).
//
// What was asked is read from cloud-init's own records, never from the
// cloud: /run/cloud-init and /var/lib/cloud/data (status.json,
// result.json), /run/cloud-init/instance-data.json (18.3 and later), the
// instance directory /var/lib/cloud/instance (cloud-config.txt,
// scripts/, sem/, boot-finished), the NoCloud seed (17.x), and
// /etc/cloud/cloud.cfg(.d) for the default user. The formats follow
// cloud-init 17.1 (what Fedora Atomic shipped) and 26.2; see
// selftest/cloudinitfmt (the formats) and checks/internal/cloudinithost
// (where cloud-init keeps them, and whether it applies).
// Every read is bounded and symbolic links are resolved inside the root,
// so a hostile or broken tree is a finding, never a crash.
package cloudinit

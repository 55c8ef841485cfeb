// Package selinux owns the checks of SELinux where it is present: the
// kernel runs the mode the host configured (selinux.mode), and nothing
// was denied this boot (selinux.avc), as the Atomic Host release tests'
// selinux_verify role and their journal grep for AVC denials ask.
package selinux

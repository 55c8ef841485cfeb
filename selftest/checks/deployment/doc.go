// Package deployment owns the checks of C3-C6, which the outer driver
// proves by changing the deployment and rebooting: the booted deployment
// matches the expectation left in expect.json (deployment.expected), the
// change since the last boot is classified as first boot, same, upgrade,
// rollback, deploy or layering change (deployment.transition), and
// rpm-ostree's own view over D-Bus (org.projectatomic.rpmostree1) agrees
// with the sysroot reader (deployment.rpmostree-agrees), and so does
// bootc's `bootc status --format=json --format-version=1` on bootc hosts
// (deployment.bootc-agrees), container image and digest included.
package deployment

// Package cloudinitfmt parses cloud-init's own records, in the formats of
// cloud-init 17.1 (what Fedora Atomic shipped) through 26.2: status.json
// and result.json (cloudinit/cmd/main.py), instance-data.json
// (cloudinit/sources/__init__.py, 18.3 and later), the cloud-config the
// instance was given (only the keys the cloudinit.* checks use), and the
// NoCloud seed's meta-data. It decides nothing about a verdict and never
// panics on what it is given (fuzz_test.go).
package cloudinitfmt

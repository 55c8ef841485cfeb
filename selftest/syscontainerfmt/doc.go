// Package syscontainerfmt reads the atomic CLI's system-container
// formats (projectatomic/atomic, Atomic/syscontainers.py): how an image
// name is encoded in an ostree ref under ociimage/, the info file of an
// installed container, and runc's state.json
// (opencontainers/runc's libcontainer State). It decides nothing about a
// verdict and never panics on what it is given (fuzz_test.go).
package syscontainerfmt

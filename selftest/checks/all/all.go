// Package all imports every check area so that their checks register.
// The host binary imports it once; add one line per area.
package all

import (
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/cloudinit"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/deployment"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/host"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/ignition"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/ostree"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/runtime"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/site"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/storage"
	_ "github.com/atomic-selftest/atomic-selftest/selftest/checks/syscontainer"
)

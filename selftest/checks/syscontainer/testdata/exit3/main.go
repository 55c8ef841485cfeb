// Command exit3 stands in for the probe in tests: it prints nothing and
// exits with status 3, as a broken container process would.
package main

import "os"

func main() { os.Exit(3) }

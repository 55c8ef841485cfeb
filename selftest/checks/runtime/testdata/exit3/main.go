// Command exit3 stands in for a probe binary that breaks: it prints to
// standard error and exits with status 3 (runtime.run must fail).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "probe broke on purpose")
	os.Exit(3)
}

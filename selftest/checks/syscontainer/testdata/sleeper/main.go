// Command sleeper stands in for the probe in tests that kill a run while
// its container is running: it sleeps for a minute.
package main

import "time"

func main() { time.Sleep(time.Minute) }

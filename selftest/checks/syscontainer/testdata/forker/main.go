// Command forker stands in for the probe in the test of the probe's pids
// limit: it forks (clone with SIGCHLD, which the probe's seccomp filter
// allows for threads) up to 200 children that sleep, and prints how many
// it made and the error that stopped it. Its children make only raw
// system calls: a forked Go process must not re-enter the runtime.
package main

import (
	"fmt"
	"syscall"
	"unsafe"
)

var ts = syscall.Timespec{Sec: 60}

func main() {
	n := 0
	var errno syscall.Errno
	for ; n < 200; n++ {
		pid, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
		if e != 0 {
			errno = e
			break
		}
		if pid == 0 {
			for {
				syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
			}
		}
	}
	fmt.Printf("forked %d: %v\n", n, errno)
}

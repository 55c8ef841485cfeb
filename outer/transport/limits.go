package transport

// Limits is the one table of how much the driver reads from a host. A
// host is not trusted to be small: a run record, a command's output or a
// journal that exceeds its limit is an error naming the host, the file or
// command, and the limit, never a read into memory without end.
var Limits = struct {
	// Record bounds one run record (run-*.json): a full run of every
	// check with its evidence is tens of KiB.
	Record int64
	// Output bounds the stdout and the stderr of one command (deployment
	// status, ostree log, a deployment command's progress, the journal
	// saved per step).
	Output int64
	// File bounds any other file read from a host (an origin file).
	File int64
	// BootID bounds /proc/sys/kernel/random/boot_id.
	BootID int64
	// ConsoleLine bounds one line of a guest's serial console kept in
	// memory (a longer one is cut into several); ConsoleLines bounds how
	// many are kept. The console log file is bounded apart (qemu's
	// maxConsoleLog).
	ConsoleLine  int
	ConsoleLines int
}{
	Record:       8 << 20,
	Output:       16 << 20,
	File:         1 << 20,
	BootID:       4 << 10,
	ConsoleLine:  4 << 10,
	ConsoleLines: 5000,
}

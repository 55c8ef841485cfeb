// Package journal owns the checks that read this boot's journal for the
// signals of a bad release, each from the sender that can write it
// (selftest/journal's table, kola's consoleChecks its floor): the
// kernel's own trouble (journal.kernel), the kernel starved (journal.stalls), crashed and OOM-killed processes
// (journal.crashes) and a boot that went wrong (journal.boot).
package journal

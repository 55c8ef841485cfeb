// Package site owns the checks an operator adds without writing Go, in
// the category SITE: the executables in check.d (site.<file name>),
// greenboot's check scripts where [site] greenboot is on
// (site.greenboot.<name>), and the lasting policy of [policy]
// (site.policy). The files are found at run time, for each run, through
// the host's file door (selftest/site).
package site

//go:build unix

package app

import "syscall"

// cpuSeconds is the CPU time (user and system) this process used so far:
// the machine may be busy with other work, and wall time alone would say
// more about it than about the computation.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

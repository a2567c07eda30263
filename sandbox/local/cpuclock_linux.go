//go:build linux

package local

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// cpuTimeAtExit waits until the process pid has died, leaves it unreaped,
// and reads the CPU time the kernel charged it against RLIMIT_CPU: its
// process-wide CPUCLOCK_PROF clock, user and system time as the
// scheduler's ticks count them. The kernel sends the hard limit's SIGKILL
// when exactly this clock reaches the limit; the times wait4 reports are
// rescaled to the precise run time and read several percent lower on a
// busy or virtualised host (29.15 s for a process this clock had at 31 s,
// measured), so only this clock names a CPU-limit kill without a
// tolerance. Unreaped, pid cannot name
// another process. ok is false when the clock cannot be read; the caller
// reaps the process afterwards either way.
func cpuTimeAtExit(pid int) (cpu time.Duration, ok bool) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EINTR) {
			return 0, false
		}
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(processProfClock(pid), &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// processProfClock is the clock id of pid's process-wide CPUCLOCK_PROF
// clock: the kernel's MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_PROF), with
// CPUCLOCK_PROF = 0.
func processProfClock(pid int) int32 {
	return ^int32(pid) << 3
}

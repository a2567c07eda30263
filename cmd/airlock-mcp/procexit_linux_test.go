package main_test

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// waitExited waits for the processes to exit, on their exit itself: a
// pidfd becomes readable when its process exits. limit is only a safety
// net. A process already gone counts as exited.
func waitExited(pids []string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, p := range pids {
		pid, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("process id %q: %w", p, err)
		}
		if err := waitPidExit(pid, deadline); err != nil {
			return err
		}
	}
	return nil
}

// waitPidExit waits for process pid to exit, or for deadline.
func waitPidExit(pid int, deadline time.Time) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd_open(%d): %w", pid, err)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(max(time.Until(deadline), 0).Milliseconds()))
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("waiting for process %d to exit: %w", pid, err)
		case n == 0:
			return fmt.Errorf("process %d still alive at the deadline", pid)
		}
		return nil
	}
}

//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package audit

import (
	"errors"
	"os"
	"syscall"
)

// errLocked is lockFile's error when another process holds the lock.
var errLocked = errors.New("another process is writing this audit log (the file is locked)")

// lockFile takes an exclusive advisory lock on f without waiting, so that
// two servers never append to one log (their chains would interleave). The
// lock goes with the file descriptor, when the Writer closes the file or the
// process exits.
func lockFile(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var flockErr error
	if err := rc.Control(func(fd uintptr) {
		flockErr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
	}); err != nil {
		return err
	}
	if errors.Is(flockErr, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return flockErr
}

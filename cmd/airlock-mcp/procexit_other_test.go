//go:build !linux

package main_test

import (
	"errors"
	"time"
)

// waitExited needs Linux's pidfds, like the sandboxes whose processes it
// waits for.
func waitExited(pids []string, limit time.Duration) error {
	return errors.New("waiting for processes to exit needs Linux")
}

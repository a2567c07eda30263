//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package audit

import "os"

// lockFile does nothing where flock is not available: the operator must
// make sure that only one server writes a log.
func lockFile(*os.File) error { return nil }

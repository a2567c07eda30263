//go:build !unix

package main

// openFileLimit reports no limit where the system has no rlimits
// (Windows): the connection limit keeps its default.
func openFileLimit() (uint64, bool) { return 0, false }

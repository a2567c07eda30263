package sandbox

import "fmt"

// Validate checks that every limit l defines is positive, as every backend
// requires of a call (the policy fills them all in). MaxProcesses is
// required too, even by a backend that does not cap processes (Modal): the
// same limits must be valid on every backend.
func (l Limits) Validate() error {
	if l.Timeout <= 0 || l.MemoryBytes <= 0 || l.CPUTime <= 0 || l.MaxProcesses <= 0 ||
		l.MaxOutputBytes <= 0 || l.MaxFileBytes <= 0 || l.MaxOpenFiles <= 0 {
		return fmt.Errorf("sandbox: every limit must be positive, got %+v", l)
	}
	return nil
}

// PoolKey is l without its timeout: what a sandbox built ahead of calls
// (a warm or pooled one) was prepared with, and what a call's limits must
// equal to take it. The timeout is enforced from outside the sandbox, per
// call.
func (l Limits) PoolKey() Limits {
	l.Timeout = 0
	return l
}

//go:build linux

package local

import (
	"context"
	"time"
)

// WaitWarm waits until the warm pool is full, so a benchmark measures a
// call that finds a sandbox ready, as calls spaced by a model's turns do.
func (b *Backend) WaitWarm(ctx context.Context) error {
	for {
		b.warm.mu.Lock()
		n := len(b.warm.ready)
		b.warm.mu.Unlock()
		if n >= b.warm.size {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// CgroupsActive reports whether sandboxes get their own cgroups.
func (b *Backend) CgroupsActive() bool { return b.cgroups != nil }

// CgroupParents are the directories holding the sandboxes' cgroups.
func (b *Backend) CgroupParents() []string {
	if b.cgroups == nil {
		return nil
	}
	return []string{b.cgroups.memParent, b.cgroups.pidsParent}
}

package modal

import (
	"fmt"
	"time"
)

// closeTimeout bounds Close: how long it waits for the terminations it
// asks for, and for creations and calls in flight, before giving up on
// them (Modal's lifetime limit still ends their sandboxes).
const closeTimeout = 30 * time.Second

// Close refuses further executions, terminates every sandbox (in calls,
// pooled, being created), and waits for Modal to confirm, for calls to
// end and for creations in flight, for at most closeTimeout in all. Calls
// still running end with status killed, saying the server is shutting
// down. It is safe to call more than once; it returns an error counting
// the sandboxes Modal did not confirm terminated.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.closing)
	b.ops.Add(1) // Close's own, so what it starts is counted before it waits
	b.mu.Unlock()

	deadline, stop := b.clock.Timer(closeTimeout)
	defer stop()
	if b.pool != nil {
		b.pool.close()
	}
	for _, sb := range b.liveSandboxes() {
		b.releaseLater(sb)
	}
	b.ops.Done()
	if b.waitOps(deadline) {
		// A termination that failed while Close waited (a call's own, say)
		// gets one more try.
		if again := b.liveSandboxes(); len(again) > 0 {
			b.ops.Add(1)
			for _, sb := range again {
				b.releaseLater(sb)
			}
			b.ops.Done()
			b.waitOps(deadline)
		}
	} else {
		b.log.Warn("Modal operations still in flight after the shutdown timeout; their sandboxes end with their lifetime")
	}
	b.sessions.close()
	if n := b.Sandboxes(); n > 0 {
		return fmt.Errorf("modal: %d sandbox(es) could not be terminated, or Modal did not confirm it in time; Modal ends them when their lifetime runs out", n)
	}
	return nil
}

// waitOps waits for every operation to end, or for deadline, and reports
// whether they all ended.
func (b *Backend) waitOps(deadline <-chan time.Time) bool {
	done := make(chan struct{})
	go func() {
		b.ops.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-deadline:
		return false
	}
}

//go:build linux

package local

import (
	"context"
	"sync"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// warmPool keeps sandboxes started ahead of calls. A warm sandbox has been
// built and its interpreter is waiting for code on stdin; it serves one
// call, like any other, and is then gone. The pool is keyed by the limits
// the sandboxes were built with (all but the timeout, which the caller's
// timer enforces): a call with other limits gets a cold sandbox.
type warmPool struct {
	b    *Backend
	size int

	mu      sync.Mutex
	key     sandbox.Limits
	keyed   bool
	ready   []*proc
	filling int
	closed  bool
	// failures counts consecutive failed fills; the pool stops filling
	// after a few, until a call succeeds in starting a sandbox cold.
	failures int
}

const maxWarmFailures = 3

func newWarmPool(b *Backend, size int) *warmPool {
	return &warmPool{b: b, size: size}
}

// prefill starts filling the pool for limits before the first call.
func (w *warmPool) prefill(limits sandbox.Limits) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rekeyLocked(limits.PoolKey())
	w.fillLocked()
}

// take returns a warm sandbox built for limits, or nil. The caller calls
// refill once its call is over: building a sandbox while a call runs would
// compete with it for the CPU and, with cgroups, stall its forks and exits
// behind the cgroup move (a write lock on the kernel's thread-group
// semaphore).
func (w *warmPool) take(limits sandbox.Limits) *proc {
	key := limits.PoolKey()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.rekeyLocked(key)
	var p *proc
	for len(w.ready) > 0 && p == nil {
		p = w.ready[0]
		w.ready = w.ready[1:]
		if p.exited() { // died while idle; its slot refills below
			p.release()
			p = nil
		}
	}
	if p == nil && w.failures >= maxWarmFailures {
		// A cold start is about to be tried; let the pool try again after.
		w.failures = 0
	}
	return p
}

// refill starts building the sandboxes the pool lacks.
func (w *warmPool) refill() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.fillLocked()
}

// rekeyLocked switches the pool to key, discarding sandboxes built for
// other limits.
func (w *warmPool) rekeyLocked(key sandbox.Limits) {
	if w.keyed && w.key == key {
		return
	}
	for _, p := range w.ready {
		go p.kill()
	}
	w.ready = nil
	w.key, w.keyed = key, true
}

// fillLocked starts as many sandboxes as the pool lacks.
func (w *warmPool) fillLocked() {
	if w.closed || w.failures >= maxWarmFailures {
		return
	}
	for n := len(w.ready) + w.filling; n < w.size; n++ {
		w.filling++
		key := w.key
		go w.fill(key)
	}
}

func (w *warmPool) fill(key sandbox.Limits) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := w.b.start(ctx, key)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.filling--
	if err != nil {
		w.failures++
		return
	}
	if w.closed || w.key != key || len(w.ready) >= w.size {
		go p.kill()
		return
	}
	w.failures = 0
	w.ready = append(w.ready, p)
}

// close kills every warm sandbox and stops refilling.
func (w *warmPool) close() {
	w.mu.Lock()
	w.closed = true
	ready := w.ready
	w.ready = nil
	w.mu.Unlock()
	for _, p := range ready {
		p.kill()
	}
}

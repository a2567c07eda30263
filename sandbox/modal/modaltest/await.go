package modaltest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// changes tells waiters that the server's state may have changed.
type changes struct {
	mu sync.Mutex
	ch chan struct{} // closed at the next change; nil until someone waits
}

// next returns a channel closed at the next change after this call.
func (c *changes) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// notify wakes every waiter.
func (c *changes) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// Await waits until cond holds, checking it at once and again at each
// change the server sees: a request received or answered, a sandbox
// created or finished, an exec started, writing output or exiting. It
// returns an error wrapping ctx's if ctx ends first. cond must not block;
// it may call the Server's methods.
//
// A process that an exec left in the background is not an exec: its start
// and its end are not changes, so a condition on LiveProcesses is only
// re-checked when something else happens (a sandbox's termination
// completes once its processes are gone, which is one).
func (s *Server) Await(ctx context.Context, cond func() bool) error {
	for {
		next := s.changes.next() // before checking, so no change is missed
		if cond() {
			return nil
		}
		select {
		case <-next:
		case <-ctx.Done():
			return fmt.Errorf("modaltest: waiting for the server to reach a state: %w", ctx.Err())
		}
	}
}

// InFlight counts the calls of method (short or full name) received and
// not yet answered, including those held (Hold) or delayed (SetDelay).
func (s *Server) InFlight(method string) int {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	n := 0
	for m, k := range s.rec.inFlight {
		if methodMatches(method, m) {
			n += k
		}
	}
	return n
}

// stopper is a timer that can be stopped.
type stopper interface{ Stop() bool }

// realAfterFunc is time.AfterFunc.
func realAfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

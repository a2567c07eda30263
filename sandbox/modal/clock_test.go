package modal

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves (Options.clock). Each timer started
// on it is reported, in order: the pool starts one each time it goes back
// to sleep, so a test sees what the pool scheduled and knows that it has
// finished deciding.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	started []time.Duration // durations of the timers started, not yet taken
	changed broadcast       // notified when a timer is started
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	c.started = append(c.started, d)
	c.mu.Unlock()
	c.changed.notify()
	return t.c, func() bool { return c.stop(t) }
}

// stop removes t, reporting whether it was waiting.
func (c *fakeClock) stop(t *fakeTimer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, other := range c.timers {
		if other == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock by d and fires the timers then due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			keep = append(keep, t)
		} else {
			t.c <- c.now
		}
	}
	clear(c.timers[len(keep):])
	c.timers = keep
}

// nextTimer waits for the next timer started on the clock and returns its
// duration.
func (c *fakeClock) nextTimer(t testing.TB) time.Duration {
	t.Helper()
	timeout := time.After(safetyNet)
	for {
		next := c.changed.next() // before checking, so no start is missed
		c.mu.Lock()
		if len(c.started) > 0 {
			d := c.started[0]
			c.started = c.started[1:]
			c.mu.Unlock()
			return d
		}
		c.mu.Unlock()
		select {
		case <-next:
		case <-timeout:
			t.Fatalf("gave up after %v waiting for the pool to start a timer", safetyNet)
		}
	}
}

package modal

import "time"

// clock is the backend's time source for what it schedules itself: a
// call's timeout and duration, when a pooled sandbox is retired, when a
// failed refill is retried. Tests replace it to move time themselves
// (Options.clock).
type clock interface {
	Now() time.Time
	// Timer returns a channel that receives once d has passed, and a
	// function that stops the timer (as time.Timer.Stop).
	Timer(d time.Duration) (<-chan time.Time, func() bool)
}

// realClock is the clock on the wall.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Timer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// ErrBusy is wrapped by the error of a call that found no free execution
// slot: too many calls already waiting, or none freed up in time. The
// wrapping error says which, in a sentence a model can act on.
var ErrBusy = errors.New("server busy")

// Queue bounds the calls waiting for an execution slot.
type Queue struct {
	// MaxWaiting is how many calls may wait at once; a call beyond it
	// fails at once with ErrBusy. 0 lets no call wait.
	MaxWaiting int
	// Timeout is the longest a call waits before it fails with ErrBusy;
	// 0 means no limit.
	Timeout time.Duration
	// Observer, when not nil, is told as calls queue and run (metrics).
	Observer QueueObserver
}

// QueueObserver is told when calls enter and leave the queue and when
// executions start and finish.
type QueueObserver interface {
	QueueEnter()
	QueueLeave()
	ExecutionStarted()
	ExecutionFinished()
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) QueueEnter()        {}
func (nopObserver) QueueLeave()        {}
func (nopObserver) ExecutionStarted()  {}
func (nopObserver) ExecutionFinished() {}

// Limited is a Backend that runs at most a fixed number of Execute calls of
// another at once; further calls wait in a queue. It reports how many run
// and wait, for metrics.
type Limited struct {
	b       Backend
	slots   chan struct{}
	queue   Queue
	bounded bool // queue applies; false waits without bound
	waiting atomic.Int64
}

// LimitConcurrency returns a Backend that runs at most n Execute calls of
// b at once; further calls wait for a slot without bound. A call whose ctx
// ends while it waits returns ctx's error, wrapped, without starting a
// sandbox. Name and Close delegate to b. It panics if n < 1: a limit is a
// configuration the policy has already validated.
//
// The wrapper exposes the Backend methods and b's Capabilities (it is
// Capable), and b's sessions through SessionsOf, each session call taking
// a slot like Execute: other optional interfaces b may implement are not
// visible through it.
func LimitConcurrency(b Backend, n int) *Limited {
	if n < 1 {
		panic(fmt.Sprintf("sandbox: LimitConcurrency with n = %d; want at least 1", n))
	}
	return &Limited{b: b, slots: make(chan struct{}, n), queue: Queue{Observer: nopObserver{}}}
}

// LimitConcurrencyQueue is LimitConcurrency with a bounded queue: a call
// fails with ErrBusy when q.MaxWaiting calls already wait, or when it has
// waited q.Timeout.
func LimitConcurrencyQueue(b Backend, n int, q Queue) *Limited {
	l := LimitConcurrency(b, n)
	if q.Observer == nil {
		q.Observer = nopObserver{}
	}
	l.queue, l.bounded = q, true
	return l
}

// Name returns the wrapped backend's name.
func (l *Limited) Name() string { return l.b.Name() }

// Capabilities are those of the backend l limits (CapabilitiesOf).
func (l *Limited) Capabilities() Capabilities { return CapabilitiesOf(l.b) }

// Close closes the wrapped backend.
func (l *Limited) Close() error { return l.b.Close() }

// Running reports how many calls hold an execution slot.
func (l *Limited) Running() int { return len(l.slots) }

// Waiting reports how many calls wait for a slot.
func (l *Limited) Waiting() int { return int(l.waiting.Load()) }

// Execute runs req on the wrapped backend once a slot is free.
func (l *Limited) Execute(ctx context.Context, req Request) (Result, error) {
	return l.inSlot(ctx, func() (Result, error) { return l.b.Execute(ctx, req) })
}

// inSlot runs execute once a slot is free, holding the slot until it
// returns.
func (l *Limited) inSlot(ctx context.Context, execute func() (Result, error)) (Result, error) {
	// Check first: select picks at random when a slot and ctx.Done are both ready.
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("sandbox: waiting for a free %s sandbox slot: %w", l.b.Name(), err)
	}
	select {
	case l.slots <- struct{}{}:
	default:
		if err := l.wait(ctx); err != nil {
			return Result{}, err
		}
	}
	l.queue.Observer.ExecutionStarted()
	defer func() {
		l.queue.Observer.ExecutionFinished()
		<-l.slots
	}()
	return execute()
}

// wait queues for a slot.
func (l *Limited) wait(ctx context.Context) error {
	if n := l.waiting.Add(1); l.bounded && n > int64(l.queue.MaxWaiting) {
		l.waiting.Add(-1)
		return fmt.Errorf("%w: %s and %s; try again in a little while", ErrBusy, slotsInUse(cap(l.slots)), waitingText(l.queue.MaxWaiting))
	}
	l.queue.Observer.QueueEnter()
	defer func() {
		l.queue.Observer.QueueLeave()
		l.waiting.Add(-1)
	}()
	var timeout <-chan time.Time
	if l.bounded && l.queue.Timeout > 0 {
		t := time.NewTimer(l.queue.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-timeout:
		return fmt.Errorf("%w: %s and none freed up within %s s; try again in a little while",
			ErrBusy, slotsInUse(cap(l.slots)), strconv.FormatFloat(l.queue.Timeout.Seconds(), 'f', -1, 64))
	case <-ctx.Done():
		return fmt.Errorf("sandbox: waiting for a free %s sandbox slot: %w", l.b.Name(), ctx.Err())
	}
}

// slotsInUse says that n slots are all taken.
func slotsInUse(n int) string {
	if n == 1 {
		return "the only execution slot is in use"
	}
	return "all " + strconv.Itoa(n) + " execution slots are in use"
}

// waitingText says that the queue of at most n waiting calls is full.
func waitingText(n int) string {
	switch n {
	case 0:
		return "the operator lets no call wait for one (limits.max_queued is 0)"
	case 1:
		return "another call is already waiting"
	}
	return strconv.Itoa(n) + " calls are already waiting"
}

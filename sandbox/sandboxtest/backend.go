// Package sandboxtest provides fakes for the tests of the layers above the
// backends (the concurrency limit, the session registry, the tools, the
// server): a sandbox.Backend that runs nothing, returns what it is told,
// records what it is asked, and can hold calls until the test lets them
// go; and a sandbox.SessionBackend whose sessions keep their state in a
// map, can be made to die, and can hold their calls too.
package sandboxtest

import (
	"context"
	"sync"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// interruptedBuffer bounds how many interrupted calls Interrupted keeps
// for the test to read; later ones are not reported there.
const interruptedBuffer = 64

// Backend is a fake sandbox.Backend. Its zero value is ready: Execute
// records the request and returns Result and Err at once. Set the fields
// before the first call; read what happened with the methods, which are
// safe for concurrent use.
type Backend struct {
	// BackendName is what Name returns; "" reads as "fake".
	BackendName string
	// Result and Err are what every Execute returns.
	Result sandbox.Result
	Err    error
	// Panic, when not nil, makes Execute panic with it once the request is
	// recorded.
	Panic any
	// Caps is what Capabilities returns; nil reads as sandbox.Undeclared.
	Caps sandbox.Capabilities

	once        sync.Once
	started     chan struct{} // closed by the first call
	interrupted chan error

	mu       sync.Mutex
	requests []sandbox.Request
	running  int
	peak     int
	closed   bool
	hold     chan struct{} // nil: calls return at once
	released bool
}

// channels makes the channels the zero value lacks.
func (b *Backend) channels() {
	b.once.Do(func() {
		b.started = make(chan struct{})
		b.interrupted = make(chan error, interruptedBuffer)
	})
}

// Capabilities returns Caps, or sandbox.Undeclared.
func (b *Backend) Capabilities() sandbox.Capabilities {
	if b.Caps == nil {
		return sandbox.Undeclared{}
	}
	return b.Caps
}

// Name returns BackendName, or "fake".
func (b *Backend) Name() string {
	if b.BackendName == "" {
		return "fake"
	}
	return b.BackendName
}

// Execute records req and returns Result and Err. While the backend is
// held (Hold), it first waits for Release or for ctx to end; a call whose
// ctx ends first returns ctx's error and reports it on Interrupted.
func (b *Backend) Execute(ctx context.Context, req sandbox.Request) (sandbox.Result, error) {
	b.channels()
	b.mu.Lock()
	b.requests = append(b.requests, req)
	if len(b.requests) == 1 {
		close(b.started)
	}
	b.running++
	b.peak = max(b.peak, b.running)
	hold := b.hold
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.running--
		b.mu.Unlock()
	}()
	if b.Panic != nil {
		panic(b.Panic)
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			select {
			case b.interrupted <- ctx.Err():
			default:
			}
			return sandbox.Result{}, ctx.Err()
		}
	}
	return b.Result, b.Err
}

// Close records that the backend was closed.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// Hold makes the calls that arrive from now on wait, in Execute, until
// Release or the end of their ctx.
func (b *Backend) Hold() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hold == nil || b.released {
		b.hold, b.released = make(chan struct{}), false
	}
}

// Release lets every held call, and every later one, return.
func (b *Backend) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hold != nil && !b.released {
		close(b.hold)
		b.released = true
	}
}

// Started is closed as soon as Execute receives its first call.
func (b *Backend) Started() <-chan struct{} {
	b.channels()
	return b.started
}

// Interrupted receives the ctx error of each held call whose ctx ended
// before Release (the first 64).
func (b *Backend) Interrupted() <-chan error {
	b.channels()
	return b.interrupted
}

// Requests returns a copy of the requests Execute received, in order.
func (b *Backend) Requests() []sandbox.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]sandbox.Request(nil), b.requests...)
}

// Calls returns how many calls Execute received.
func (b *Backend) Calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.requests)
}

// Running returns how many calls are inside Execute now.
func (b *Backend) Running() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.running
}

// Peak returns the most calls that were inside Execute at once.
func (b *Backend) Peak() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Closed reports whether Close was called.
func (b *Backend) Closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

var _ sandbox.Backend = (*Backend)(nil)

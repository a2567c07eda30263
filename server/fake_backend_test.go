package server

import (
	"context"
	"sync"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// fakeBackend is a sandbox.Backend that returns a canned result, records
// every request, and optionally blocks until the call's ctx is cancelled.
type fakeBackend struct {
	result sandbox.Result
	// block makes Execute signal started, wait for ctx to be done, and
	// send ctx.Err() on cancelled.
	block     bool
	started   chan struct{}
	cancelled chan error
	// panicWith, when not nil, makes Execute panic with it.
	panicWith any

	mu    sync.Mutex
	calls []sandbox.Request
}

func newBlockingBackend() *fakeBackend {
	return &fakeBackend{block: true, started: make(chan struct{}), cancelled: make(chan error, 1)}
}

func (f *fakeBackend) Name() string { return "fake" }

func (f *fakeBackend) Execute(ctx context.Context, req sandbox.Request) (sandbox.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	f.mu.Unlock()
	if f.panicWith != nil {
		panic(f.panicWith)
	}
	if f.block {
		close(f.started)
		<-ctx.Done()
		f.cancelled <- ctx.Err()
		return sandbox.Result{}, ctx.Err()
	}
	return f.result, nil
}

func (f *fakeBackend) Close() error { return nil }

// callCount returns how many requests Execute received.
func (f *fakeBackend) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

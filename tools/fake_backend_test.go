package tools_test

import (
	"context"
	"sync"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// fakeBackend is a sandbox.Backend that returns a canned result or error and
// records every request it receives.
type fakeBackend struct {
	name   string // "" reads as "fake"
	result sandbox.Result
	err    error

	mu    sync.Mutex
	calls []sandbox.Request
}

func (f *fakeBackend) Name() string {
	if f.name == "" {
		return "fake"
	}
	return f.name
}

func (f *fakeBackend) Execute(_ context.Context, req sandbox.Request) (sandbox.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	f.mu.Unlock()
	return f.result, f.err
}

func (f *fakeBackend) Close() error { return nil }

// requests returns a copy of the requests received so far.
func (f *fakeBackend) requests() []sandbox.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sandbox.Request(nil), f.calls...)
}

package sandbox

import (
	"context"
	"fmt"
)

// LimitConcurrency returns a Backend that runs at most n Execute calls of b
// at once; further calls wait for a slot. A call whose ctx ends while it
// waits returns ctx's error, wrapped, without starting a sandbox. Name and
// Close delegate to b. It panics if n < 1: a limit is a configuration the
// policy has already validated.
//
// The wrapper exposes only the Backend methods: optional interfaces b may
// implement are not visible through it.
func LimitConcurrency(b Backend, n int) Backend {
	if n < 1 {
		panic(fmt.Sprintf("sandbox: LimitConcurrency with n = %d; want at least 1", n))
	}
	return &limitedBackend{b: b, slots: make(chan struct{}, n)}
}

type limitedBackend struct {
	b     Backend
	slots chan struct{}
}

func (l *limitedBackend) Name() string { return l.b.Name() }

func (l *limitedBackend) Close() error { return l.b.Close() }

func (l *limitedBackend) Execute(ctx context.Context, req Request) (Result, error) {
	// Check first: select picks at random when a slot and ctx.Done are both ready.
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("sandbox: waiting for a free %s sandbox slot: %w", l.b.Name(), err)
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("sandbox: waiting for a free %s sandbox slot: %w", l.b.Name(), ctx.Err())
	}
	defer func() { <-l.slots }()
	return l.b.Execute(ctx, req)
}

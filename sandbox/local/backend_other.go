//go:build !linux

package local

import (
	"context"
	"fmt"
	"runtime"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Backend is unavailable off Linux.
type Backend struct{}

// New always fails off Linux: the local sandbox is built from Linux
// namespaces, and code is never run unsandboxed.
func New(ctx context.Context, opts Options) (*Backend, error) {
	return nil, fmt.Errorf("%w: it needs Linux namespaces, and this is %s; use --backend modal or run airlock-mcp on Linux", ErrUnavailable, runtime.GOOS)
}

// Name returns "local".
func (b *Backend) Name() string { return Name }

// Execute is never reached: New fails.
func (b *Backend) Execute(context.Context, sandbox.Request) (sandbox.Result, error) {
	return sandbox.Result{}, ErrUnavailable
}

// Close does nothing.
func (b *Backend) Close() error { return nil }

// Diagnose reports that the local backend cannot run off Linux.
func Diagnose(ctx context.Context, opts Options) ([]Check, bool) {
	_, err := New(ctx, opts)
	return []Check{{Name: "platform", State: CheckFailed, Detail: err.Error()}}, false
}

// Sandboxes reports 0: there are none outside Linux.
func (b *Backend) Sandboxes() int { return 0 }

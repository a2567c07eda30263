package sandbox

import (
	"context"
	"errors"
)

// ErrShutdown is the cause the server gives the context of every call it
// stops because it is shutting down: it cancels them with
//
//	ctx, cancel := context.WithCancelCause(ctx)
//	...
//	cancel(sandbox.ErrShutdown)
//
// so a backend can tell a shutdown from the client cancelling the call
// (StoppedByShutdown) and say which one stopped the code.
var ErrShutdown = errors.New("the server is shutting down")

// StoppedByShutdown reports whether ctx was cancelled by a server shutdown
// (its cause is ErrShutdown) rather than by the client.
func StoppedByShutdown(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), ErrShutdown)
}

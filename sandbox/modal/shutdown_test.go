package modal

import (
	"context"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal/modaltest"
)

// TestStoppedCallSaysWho: a call the server stops because it is shutting
// down (its context cancelled with sandbox.ErrShutdown as the cause) tells
// the model so; one the client cancels says the client did. Either way the
// sandbox is terminated.
func TestStoppedCallSaysWho(t *testing.T) {
	tests := []struct {
		name  string
		cause error
		want  string
	}{
		{"server shutting down", sandbox.ErrShutdown, "the server is shutting down, so the call was stopped"},
		{"client cancelled", context.Canceled, "the client cancelled the call"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startCP(t, modaltest.Options{})
			b := newBackend(t, srv, baseOptions())
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			done := executeAsync(ctx, b, sandbox.Request{Code: sleepCode, Limits: callLimits})
			awaitStdout(t, srv, "running\n")
			cancel(tt.cause)
			o := within(t, done, "the stopped call to return")
			if o.err != nil || o.res.Status != sandbox.StatusKilled || o.res.Error == nil || o.res.Error.Type != "Cancelled" ||
				!strings.Contains(o.res.Error.Message, tt.want) {
				t.Errorf("result %+v, error %+v; want killed, Cancelled, %q", o.res, o.res.Error, tt.want)
			}
			awaitGone(t, b, srv)
		})
	}
}

package sandbox

import (
	"context"
	"strings"
	"testing"
)

// TestCancelledCallSaysWho: a call stopped by the server's shutdown says
// so; one the client cancelled says that; both are killed and typed
// "Cancelled", and a backend tells them apart by the context's cause.
func TestCancelledCallSaysWho(t *testing.T) {
	client, cancelClient := context.WithCancelCause(context.Background())
	cancelClient(context.Canceled)
	shutdown, cancelShutdown := context.WithCancelCause(context.Background())
	cancelShutdown(ErrShutdown)
	// The server derives each call's context from others; the cause follows.
	call, stop := context.WithCancel(shutdown)
	defer stop()

	tests := []struct {
		name     string
		ctx      context.Context
		want     string
		mustNot  string
		shutdown bool
	}{
		{"client cancelled", client, "the client cancelled the call", "shutting down", false},
		{"server shutting down", call, "the server is shutting down", "client", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StoppedByShutdown(tt.ctx); got != tt.shutdown {
				t.Fatalf("StoppedByShutdown = %v, want %v", got, tt.shutdown)
			}
			exit := ProcessExit{Canceled: true, Shutdown: StoppedByShutdown(tt.ctx)}
			res := Finalize("test", exit, nil, "", nil, nil, Limits{})
			if res.Status != StatusKilled || res.Error == nil || res.Error.Type != "Cancelled" {
				t.Fatalf("result = %+v, want killed and Cancelled", res)
			}
			if !strings.Contains(res.Error.Message, tt.want) || strings.Contains(res.Error.Message, tt.mustNot) {
				t.Errorf("message %q: want %q, not %q", res.Error.Message, tt.want, tt.mustNot)
			}
		})
	}
}

//go:build linux

package local_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// TestStoppedCallSaysWho: a call the server stops because it is shutting
// down (its context cancelled with sandbox.ErrShutdown as the cause) tells
// the model so; one the client cancels says the client did.
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
			marker := fmt.Sprintf("airlock-stop-marker-%d", time.Now().UnixNano())
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			done := make(chan sandbox.Result, 1)
			go func() {
				res, err := newBackend(t).Execute(ctx, sandbox.Request{Limits: limits(), Code: fmt.Sprintf(`import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", %q])
time.sleep(600)`, marker)})
				if err != nil {
					t.Errorf("Execute: %v", err)
				}
				done <- res
			}()
			waitForProcess(t, marker, done) // the code runs
			cancel(tt.cause)
			select {
			case res := <-done:
				if res.Status != sandbox.StatusKilled || res.Error == nil || res.Error.Type != "Cancelled" || !strings.Contains(res.Error.Message, tt.want) {
					t.Errorf("got %s %+v, want killed, Cancelled, %q", res.Status, res.Error, tt.want)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("a stopped execution did not return")
			}
			assertNoProcess(t, marker)
		})
	}
}

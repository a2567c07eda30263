package sandboxtest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// TestReturnsWhatItIsToldAndRecords: without Hold, each call returns the
// canned result and error at once, and is recorded in order.
func TestReturnsWhatItIsToldAndRecords(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		b        *sandboxtest.Backend
		wantName string
		wantErr  error
	}{
		{"zero value", &sandboxtest.Backend{}, "fake", nil},
		{"named, failing", &sandboxtest.Backend{BackendName: "modal", Result: sandbox.Result{Status: sandbox.StatusError}, Err: boom}, "modal", boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.b.Name(); got != tt.wantName {
				t.Errorf("Name() = %q, want %q", got, tt.wantName)
			}
			for _, code := range []string{"1", "2"} {
				res, err := tt.b.Execute(context.Background(), sandbox.Request{Code: code})
				if res.Status != tt.b.Result.Status || !errors.Is(err, tt.wantErr) {
					t.Errorf("Execute = %+v, %v; want %+v, %v", res, err, tt.b.Result, tt.wantErr)
				}
			}
			reqs := tt.b.Requests()
			if len(reqs) != 2 || reqs[0].Code != "1" || reqs[1].Code != "2" || tt.b.Calls() != 2 {
				t.Errorf("recorded %+v (%d calls), want the two requests in order", reqs, tt.b.Calls())
			}
			select {
			case <-tt.b.Started():
			default:
				t.Error("Started is not closed after a call")
			}
			if tt.b.Closed() {
				t.Error("Closed before Close")
			}
			_ = tt.b.Close()
			if !tt.b.Closed() {
				t.Error("Close not recorded")
			}
		})
	}
}

// TestHoldUntilReleaseOrCancel: held calls wait; one whose ctx ends
// returns its error and reports it on Interrupted; Release lets the rest
// go; Peak counts the calls that were inside at once.
func TestHoldUntilReleaseOrCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &sandboxtest.Backend{Result: sandbox.Result{Status: sandbox.StatusOK}}
		b.Hold()
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if res, err := b.Execute(context.Background(), sandbox.Request{}); err != nil || res.Status != sandbox.StatusOK {
					t.Errorf("released call = %+v, %v", res, err)
				}
			})
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancelled := make(chan error, 1)
		go func() {
			_, err := b.Execute(ctx, sandbox.Request{})
			cancelled <- err
		}()
		synctest.Wait()
		if b.Running() != 4 || b.Peak() != 4 {
			t.Fatalf("%d running, peak %d; want 4 held calls", b.Running(), b.Peak())
		}
		cancel()
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call returned %v, want context.Canceled", err)
		}
		if err := <-b.Interrupted(); !errors.Is(err, context.Canceled) {
			t.Errorf("Interrupted got %v, want context.Canceled", err)
		}
		synctest.Wait()
		if b.Running() != 3 {
			t.Errorf("%d running after the cancel, want 3", b.Running())
		}
		b.Release()
		wg.Wait()
		if b.Running() != 0 || b.Peak() != 4 || b.Calls() != 4 {
			t.Errorf("after Release: %d running, peak %d, %d calls; want 0, 4, 4", b.Running(), b.Peak(), b.Calls())
		}
	})
}

// TestPanic: a backend set to panic does so after recording the call.
func TestPanic(t *testing.T) {
	b := &sandboxtest.Backend{Panic: "boom"}
	defer func() {
		if r := recover(); r != "boom" || b.Calls() != 1 || b.Running() != 0 {
			t.Errorf("recovered %v with %d calls, %d running; want boom, 1, 0", r, b.Calls(), b.Running())
		}
	}()
	_, _ = b.Execute(context.Background(), sandbox.Request{})
}

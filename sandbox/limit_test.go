package sandbox_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// The tests below run in a synctest bubble: its clock is fake and moves
// only when every goroutine of the test is blocked, and synctest.Wait
// returns once they all are. So "no third call was admitted" is observed
// when nothing can happen any more, not after a guessed delay, and the
// queue's timeouts pass in no real time at all.

func TestLimitConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &sandboxtest.Backend{}
		fake.Hold()
		b := sandbox.LimitConcurrency(fake, 2)
		if b.Name() != "fake" {
			t.Errorf("Name() = %q", b.Name())
		}

		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if _, err := b.Execute(context.Background(), sandbox.Request{}); err != nil {
					t.Errorf("Execute: %v", err)
				}
			})
		}
		synctest.Wait() // every call is running or waiting, and nothing else can happen
		if running, waiting := fake.Running(), b.Waiting(); running != 2 || waiting != 3 || b.Running() != 2 {
			t.Errorf("%d calls running (Running() = %d), %d waiting; want 2 and 3", running, b.Running(), waiting)
		}

		// A waiter whose context ends gives up without starting a sandbox.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		before := fake.Calls()
		if _, err := b.Execute(ctx, sandbox.Request{}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("cancelled wait returned %v, want DeadlineExceeded", err)
		}
		cancelled, cancelNow := context.WithCancel(context.Background())
		cancelNow()
		if _, err := b.Execute(cancelled, sandbox.Request{}); !errors.Is(err, context.Canceled) {
			t.Errorf("already-cancelled call returned %v, want Canceled", err)
		}
		if fake.Calls() != before {
			t.Error("a cancelled waiter started a sandbox")
		}

		fake.Release()
		wg.Wait()
		if fake.Peak() != 2 || fake.Calls() != 5 || b.Waiting() != 0 || b.Running() != 0 {
			t.Errorf("peak %d calls %d, then %d waiting %d running; want 2, 5, 0, 0", fake.Peak(), fake.Calls(), b.Waiting(), b.Running())
		}
		if err := b.Close(); err != nil || !fake.Closed() {
			t.Errorf("Close did not delegate: %v", err)
		}
	})
}

func TestLimitConcurrencyPanicsOnZero(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("LimitConcurrency(b, 0) did not panic")
		}
	}()
	sandbox.LimitConcurrency(&sandboxtest.Backend{}, 0)
}

// TestLimitConcurrencyQueue: beyond the slots, calls wait in a bounded
// queue; one too many fails at once, and one that waits the queue's
// timeout fails then, each with ErrBusy and a sentence naming the limit,
// without reaching the backend.
func TestLimitConcurrencyQueue(t *testing.T) {
	tests := []struct {
		name    string
		queue   sandbox.Queue
		waiters int           // calls started to wait before the probe
		waited  time.Duration // how long the probe waits before it fails
		want    string        // substring of the probe's ErrBusy message
	}{
		{"queue full", sandbox.Queue{MaxWaiting: 2, Timeout: time.Hour}, 2, 0, "server busy: the only execution slot is in use and 2 calls are already waiting; try again in a little while"},
		{"no queue", sandbox.Queue{MaxWaiting: 0}, 0, 0, "the only execution slot is in use and the operator lets no call wait for one (limits.max_queued is 0)"},
		{"waited too long", sandbox.Queue{MaxWaiting: 5, Timeout: 20 * time.Millisecond}, 0, 20 * time.Millisecond, "the only execution slot is in use and none freed up within 0.02 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := &sandboxtest.Backend{}
				fake.Hold()
				b := sandbox.LimitConcurrencyQueue(fake, 1, tt.queue)
				var wg sync.WaitGroup
				defer func() { fake.Release(); wg.Wait() }()
				for range 1 + tt.waiters {
					wg.Go(func() { _, _ = b.Execute(context.Background(), sandbox.Request{}) })
					synctest.Wait() // the first holds the slot, each next one waits
				}
				if b.Running() != 1 || b.Waiting() != tt.waiters {
					t.Fatalf("%d running, %d waiting; want 1 and %d", b.Running(), b.Waiting(), tt.waiters)
				}
				start := time.Now()
				_, err := b.Execute(context.Background(), sandbox.Request{})
				if !errors.Is(err, sandbox.ErrBusy) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Execute = %v, want ErrBusy with %q", err, tt.want)
				}
				if waited := time.Since(start); waited != tt.waited {
					t.Errorf("the refused call waited %v, want %v", waited, tt.waited)
				}
				if got := fake.Calls(); got != 1 {
					t.Errorf("backend got %d calls, want 1", got)
				}
			})
		})
	}
}

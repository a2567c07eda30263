package sandbox

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeBackend records how many Execute calls run at once.
type fakeBackend struct {
	running, peak, calls atomic.Int32
	release              chan struct{}
	closed               atomic.Bool
}

func (f *fakeBackend) Name() string { return "fake" }

func (f *fakeBackend) Close() error {
	f.closed.Store(true)
	return nil
}

func (f *fakeBackend) Execute(ctx context.Context, req Request) (Result, error) {
	f.calls.Add(1)
	n := f.running.Add(1)
	defer f.running.Add(-1)
	for {
		p := f.peak.Load()
		if n <= p || f.peak.CompareAndSwap(p, n) {
			break
		}
	}
	select {
	case <-f.release:
	case <-ctx.Done():
	}
	return Result{Status: StatusOK, Backend: "fake"}, nil
}

func TestLimitConcurrency(t *testing.T) {
	fake := &fakeBackend{release: make(chan struct{})}
	b := LimitConcurrency(fake, 2)
	if b.Name() != "fake" {
		t.Errorf("Name() = %q", b.Name())
	}

	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.Execute(context.Background(), Request{}); err != nil {
				t.Errorf("Execute: %v", err)
			}
		}()
	}
	waitFor(t, func() bool { return fake.running.Load() == 2 })
	time.Sleep(50 * time.Millisecond) // give a wrongly admitted third call time to show
	if got := fake.running.Load(); got != 2 {
		t.Fatalf("%d calls running, want 2", got)
	}

	// A waiter whose context ends gives up without starting a sandbox.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	before := fake.calls.Load()
	if _, err := b.Execute(ctx, Request{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait returned %v, want DeadlineExceeded", err)
	}
	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if _, err := b.Execute(cancelled, Request{}); !errors.Is(err, context.Canceled) {
		t.Errorf("already-cancelled call returned %v, want Canceled", err)
	}
	if fake.calls.Load() != before {
		t.Error("a cancelled waiter started a sandbox")
	}

	close(fake.release)
	wg.Wait()
	if fake.peak.Load() != 2 || fake.calls.Load() != 5 {
		t.Errorf("peak %d calls %d, want 2 and 5", fake.peak.Load(), fake.calls.Load())
	}
	if err := b.Close(); err != nil || !fake.closed.Load() {
		t.Errorf("Close did not delegate: %v", err)
	}
}

func TestLimitConcurrencyPanicsOnZero(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("LimitConcurrency(b, 0) did not panic")
		}
	}()
	LimitConcurrency(&fakeBackend{}, 0)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLimitConcurrencyQueue: beyond the slots, calls wait in a bounded
// queue; one too many, or one that waits too long, fails with ErrBusy and
// a sentence naming the limit, without reaching the backend.
func TestLimitConcurrencyQueue(t *testing.T) {
	tests := []struct {
		name    string
		queue   Queue
		waiters int    // calls started to wait before the probe
		want    string // substring of the probe's ErrBusy message
	}{
		{"queue full", Queue{MaxWaiting: 2, Timeout: time.Hour}, 2, "server busy: the only execution slot is in use and 2 calls are already waiting; try again in a little while"},
		{"no queue", Queue{MaxWaiting: 0}, 0, "the only execution slot is in use and the operator lets no call wait for one (limits.max_queued is 0)"},
		{"waited too long", Queue{MaxWaiting: 5, Timeout: 20 * time.Millisecond}, 0, "the only execution slot is in use and none freed up within 0.02 s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeBackend{release: make(chan struct{})}
			b := LimitConcurrencyQueue(fake, 1, tt.queue)
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); close(fake.release); wg.Wait() }()
			start := func() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _ = b.Execute(ctx, Request{})
				}()
			}
			start() // holds the slot
			waitFor(t, func() bool { return b.Running() == 1 })
			for range tt.waiters {
				start()
			}
			waitFor(t, func() bool { return b.Waiting() == tt.waiters })
			_, err := b.Execute(context.Background(), Request{})
			if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Execute = %v, want ErrBusy with %q", err, tt.want)
			}
			if got := fake.calls.Load(); got != 1 {
				t.Errorf("backend got %d calls, want 1", got)
			}
		})
	}
}

package sessions_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/sessions"
)

// These tests run in synctest bubbles: synctest.Wait returns once every
// goroutine of the test is blocked, so "the second call has not started"
// is observed when nothing else can happen, not after a guessed delay; and
// the turn timeout passes on the bubble's clock, in no real time.

// TestOneCallAtATimePerSession: calls in one session run one after
// another, each seeing the state the one before left; calls in different
// sessions, of one owner or of two, run side by side.
func TestOneCallAtATimePerSession(t *testing.T) {
	tests := []struct {
		name        string
		keys        []sandbox.SessionKey
		wantRunning int
	}{
		{"one session", []sandbox.SessionKey{{Owner: "alice", Name: "s"}, {Owner: "alice", Name: "s"}, {Owner: "alice", Name: "s"}}, 1},
		{"sessions of one owner", []sandbox.SessionKey{{Owner: "alice", Name: "s"}, {Owner: "alice", Name: "t"}}, 2},
		{"sessions of two owners", []sandbox.SessionKey{{Owner: "alice", Name: "s"}, {Owner: "bob", Name: "s"}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := &sandboxtest.SessionBackend{}
				cfg := config()
				cfg.TurnTimeout = 0
				r := newRegistry(t, b, cfg, nil)
				for _, k := range tt.keys {
					run(t, r, k.Owner, k.Name, "n = 0")
				}
				b.HoldSessions()
				var wg sync.WaitGroup
				for i, k := range tt.keys {
					wg.Go(func() {
						if _, err := r.Execute(context.Background(), k.Owner, k.Name, sandbox.Request{Code: "n = " + string(rune('1'+i))}); err != nil {
							t.Errorf("call %d: %v", i, err)
						}
					})
				}
				synctest.Wait()
				if got := b.SessionsRunning(); got != tt.wantRunning {
					t.Errorf("%d calls inside the backend at once, want %d", got, tt.wantRunning)
				}
				b.ReleaseSessions()
				wg.Wait()
				for _, s := range b.Started() {
					if s.Peak() != 1 {
						t.Errorf("session %v ran %d calls at once, want 1", s.Key(), s.Peak())
					}
				}
				if got := b.SessionsPeak(); got != tt.wantRunning {
					t.Errorf("peak %d calls at once across sessions, want %d", got, tt.wantRunning)
				}
			})
		})
	}
}

// TestWaitingForASession: a call waiting for its session gives up at the
// turn timeout with a BusyError (a sandbox.ErrBusy naming the session), or
// when its context ends, without running.
func TestWaitingForASession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &sandboxtest.SessionBackend{}
		cfg := config()
		r := newRegistry(t, b, cfg, nil)
		run(t, r, "alice", "s", "x = 1")
		b.HoldSessions()
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = r.Execute(context.Background(), "alice", "s", sandbox.Request{Code: "x = 2"}) })
		synctest.Wait()

		_, err := r.Execute(context.Background(), "alice", "s", sandbox.Request{Code: "x = 3"})
		var be *sessions.BusyError
		if !errors.As(err, &be) || !errors.Is(err, sandbox.ErrBusy) || be.Name != "s" || be.Waited != cfg.TurnTimeout {
			t.Errorf("waiting past the turn timeout: %v, want a BusyError for s after %s", err, cfg.TurnTimeout)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancelled := make(chan error, 1)
		go func() {
			_, err := r.Execute(ctx, "alice", "s", sandbox.Request{Code: "x = 4"})
			cancelled <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled while waiting: %v, want Canceled", err)
		}
		_, err = r.End(context.Background(), "alice", "s")
		if !errors.As(err, &be) || !be.Ending {
			t.Errorf("end_session while a call runs, past the turn timeout: %v, want a BusyError for end_session", err)
		}
		b.ReleaseSessions()
		wg.Wait()
		s := b.Started()[0]
		if v, _ := s.Value("x"); v != "2" || len(s.Requests()) != 2 {
			t.Errorf("x = %q after %d calls; only the held call may have run after the first", v, len(s.Requests()))
		}
	})
}

// TestConcurrentFirstUse: calls arriving together for a new session start
// one sandbox and share it.
func TestConcurrentFirstUse(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	cfg := config()
	cfg.TurnTimeout = 0 // only the calls' order matters here
	r := newRegistry(t, b, cfg, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := r.Execute(context.Background(), "alice", "s", sandbox.Request{Code: "x = 1"}); err != nil {
				t.Errorf("Execute: %v", err)
			}
		})
	}
	wg.Wait()
	if n := len(b.Started()); n != 1 || b.Started()[0].Calls() != 8 {
		t.Errorf("%d sessions started, want 1 with 8 calls", n)
	}
}

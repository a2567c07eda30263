package sandbox_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// TestSessionsOf: a backend's sessions are found through the concurrency
// limit, and only a backend that keeps sessions has any.
func TestSessionsOf(t *testing.T) {
	plain := &sandboxtest.Backend{}
	keeper := &sandboxtest.SessionBackend{}
	tests := []struct {
		name string
		b    sandbox.Backend
		want bool
	}{
		{"fresh only", plain, false},
		{"fresh only, limited", sandbox.LimitConcurrency(plain, 1), false},
		{"sessions", keeper, true},
		{"sessions, limited", sandbox.LimitConcurrency(keeper, 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sandbox.SessionsOf(tt.b); (got != nil) != tt.want {
				t.Errorf("SessionsOf = %v, want sessions: %v", got, tt.want)
			}
		})
	}
}

// TestSessionCallsShareTheSlots: through a Limited backend, a session call
// waits for an execution slot a fresh call holds, and a fresh call for one
// a session call holds: the global limit covers both kinds of call.
func TestSessionCallsShareTheSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := &sandboxtest.SessionBackend{}
		limited := sandbox.LimitConcurrency(fake, 1)
		sessions := sandbox.SessionsOf(limited)
		s, err := sessions.StartSession(context.Background(), sandbox.SessionKey{Owner: "o", Name: "n"}, sandbox.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if running := limited.Running(); running != 0 {
			t.Fatalf("starting a session took a slot: %d running", running)
		}

		// A fresh call holds the only slot: the session call waits.
		fake.Hold()
		var wg sync.WaitGroup
		wg.Go(func() { _, _ = limited.Execute(context.Background(), sandbox.Request{}) })
		synctest.Wait()
		wg.Go(func() {
			if _, err := s.Execute(context.Background(), sandbox.Request{Code: "x = 1"}); err != nil {
				t.Errorf("session call: %v", err)
			}
		})
		synctest.Wait()
		if limited.Waiting() != 1 || fake.SessionsRunning() != 0 {
			t.Errorf("with the slot taken by a fresh call: %d waiting, %d session calls running; want 1, 0", limited.Waiting(), fake.SessionsRunning())
		}
		fake.Release()
		wg.Wait()

		// A session call holds the slot: a fresh call waits.
		fake.HoldSessions()
		wg.Go(func() { _, _ = s.Execute(context.Background(), sandbox.Request{Code: "x"}) })
		synctest.Wait()
		before := fake.Calls()
		wg.Go(func() { _, _ = limited.Execute(context.Background(), sandbox.Request{}) })
		synctest.Wait()
		if limited.Waiting() != 1 || fake.Calls() != before {
			t.Errorf("with the slot taken by a session call: %d waiting, fresh call started: %v; want 1 waiting", limited.Waiting(), fake.Calls() != before)
		}
		fake.ReleaseSessions()
		wg.Wait()
		if s.Calls() != 2 {
			t.Errorf("session ran %d calls, want 2", s.Calls())
		}

		// Sessions found again are limited the same way.
		fake.Leave("o", sandboxtest.NewSession(sandbox.SessionKey{Owner: "o", Name: "old"}, s.Created(), 3))
		found, err := sessions.FindSessions(context.Background(), "o")
		if err != nil || len(found) != 1 {
			t.Fatalf("FindSessions = %v, %v", found, err)
		}
		fake.Hold()
		wg.Go(func() { _, _ = limited.Execute(context.Background(), sandbox.Request{}) })
		synctest.Wait()
		wg.Go(func() { _, _ = found[0].Execute(context.Background(), sandbox.Request{Code: "x = 1"}) })
		synctest.Wait()
		if limited.Waiting() != 1 {
			t.Errorf("a found session's call did not wait for the slot: %d waiting", limited.Waiting())
		}
		fake.Release()
		wg.Wait()
	})
}

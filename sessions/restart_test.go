package sessions_test

import (
	"context"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// TestRestartAfterTheInterpreterDied: when a session's interpreter dies —
// in a call (a crash, a memory kill) or between calls — the call that
// killed it says so in its own result (Ended), and the next call of the
// name runs in a new interpreter, numbered 1, told that it restarted and
// why; the dead session's sandbox is closed.
func TestRestartAfterTheInterpreterDied(t *testing.T) {
	tests := []struct {
		name       string
		kill       func(t *testing.T, r runner, s *sandboxtest.Session) (ended string)
		wantReason string
	}{
		{"crash in a call", func(t *testing.T, r runner, _ *sandboxtest.Session) string {
			out := r(t, "crash")
			if out.Result.Status != sandbox.StatusKilled {
				t.Errorf("the crashing call's status is %s, want killed", out.Result.Status)
			}
			return out.Ended
		}, sandboxtest.CrashReason},
		{"memory kill in a call", func(t *testing.T, r runner, _ *sandboxtest.Session) string {
			return r(t, "die: the memory limit of 512 MiB was reached").Ended
		}, "the memory limit of 512 MiB was reached"},
		{"died between calls", func(t *testing.T, _ runner, s *sandboxtest.Session) string {
			s.Kill("the sandbox was lost")
			<-s.Closed() // the registry noticed: it closed the sandbox
			return ""
		}, "the sandbox was lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &sandboxtest.SessionBackend{}
			r := newRegistry(t, b, config(), newClock().Now)
			in := func(t *testing.T, code string) (out outcome) {
				t.Helper()
				return run(t, r, "alice", "s", code)
			}
			in(t, "x = 41")
			in(t, "x")
			s := sessionOf(t, b, "alice", "s")
			ended := tt.kill(t, in, s)
			if tt.name != "died between calls" && ended != tt.wantReason {
				t.Errorf("the killing call's Ended = %q, want %q", ended, tt.wantReason)
			}
			// The dead session no longer counts against the limits, nor is
			// listed.
			if infos, _ := r.List(context.Background(), "alice"); len(infos) != 0 {
				t.Errorf("List = %+v, want no live session", infos)
			}
			out := in(t, "x")
			if result(out) != "NameError" || !out.Result.Session.Restarted || out.Result.Session.Reason != tt.wantReason || out.Result.Session.Call != 1 {
				t.Errorf("next call = %q, %+v; want NameError in call 1, restarted because %q", result(out), out.Result.Session, tt.wantReason)
			}
			if s.CloseCount() != 1 {
				t.Errorf("the dead session was closed %d times, want 1", s.CloseCount())
			}
			if out := in(t, "x = 2"); out.Result.Session.Restarted || out.Result.Session.Call != 2 {
				t.Errorf("the call after = %+v, want call 2, not restarted", out.Result.Session)
			}
		})
	}
}

// TestTimeoutKeepsTheSession: a call that times out but leaves the
// interpreter alive keeps the session and its state.
func TestTimeoutKeepsTheSession(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	r := newRegistry(t, b, config(), newClock().Now)
	run(t, r, "alice", "s", "x = 41")
	if out := run(t, r, "alice", "s", "timeout"); out.Result.Status != sandbox.StatusTimeout || out.Ended != "" {
		t.Errorf("timeout call: %s, ended %q; want timeout, the session alive", out.Result.Status, out.Ended)
	}
	if out := run(t, r, "alice", "s", "x"); result(out) != "41" || out.Result.Session.Restarted || out.Result.Session.Call != 3 {
		t.Errorf("after the timeout: %q, %+v; want 41 in call 3", result(out), out.Result.Session)
	}
}

// TestBackendErrorKeepsTheRestartNotice: when the backend fails the first
// call of a restarted session, the next call is still told of the restart.
func TestBackendErrorKeepsTheRestartNotice(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	r := newRegistry(t, b, config(), newClock().Now)
	run(t, r, "alice", "s", "crash")
	ctx, cancel := context.WithCancel(context.Background())
	b.HoldSessions()
	cancel()
	if _, err := r.Execute(ctx, "alice", "s", sandbox.Request{Code: "x"}); err == nil {
		t.Fatal("a cancelled call succeeded")
	}
	b.ReleaseSessions()
	if out := run(t, r, "alice", "s", "x"); !out.Result.Session.Restarted || out.Result.Session.Reason != sandboxtest.CrashReason {
		t.Errorf("next call = %+v, want the restart notice", out.Result.Session)
	}
}

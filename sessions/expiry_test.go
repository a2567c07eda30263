package sessions_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// TestExpiry: a session ends idle_ttl after its last call, or
// max_lifetime after it started, whichever comes first; the reaper ends it
// and closes its sandbox, List shows when it will, and the next call of
// its name starts a new interpreter and is told why.
func TestExpiry(t *testing.T) {
	cfg := config() // idle 15 min, lifetime 4 h
	tests := []struct {
		name string
		// uses are the offsets from t0 of the calls after the first.
		uses       []time.Duration
		wantExpiry time.Duration // from t0
		wantReason string
	}{
		{"idle", nil, 15 * time.Minute, "unused for 900 s (the operator's sessions.idle_ttl_s)"},
		{"idle after the last use", []time.Duration{10 * time.Minute}, 25 * time.Minute, "sessions.idle_ttl_s"},
		{"lifetime", every(10*time.Minute, 3*time.Hour+50*time.Minute), 4 * time.Hour, "maximum lifetime of 14400 s (the operator's sessions.max_lifetime_s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &sandboxtest.SessionBackend{}
			clk := newClock()
			r := newRegistry(t, b, cfg, clk.Now)
			run(t, r, "alice", "s", "x = 41")
			for _, u := range tt.uses {
				clk.Add(t0.Add(u).Sub(clk.Now()))
				run(t, r, "alice", "s", "x")
			}
			infos, err := r.List(context.Background(), "alice")
			if err != nil || len(infos) != 1 || !infos[0].ExpiresAt.Equal(t0.Add(tt.wantExpiry)) {
				t.Fatalf("List = %+v, %v; want one session expiring at %v", infos, err, t0.Add(tt.wantExpiry))
			}
			s := sessionOf(t, b, "alice", "s")

			// A second before: nothing ends.
			clk.Add(t0.Add(tt.wantExpiry - time.Second).Sub(clk.Now()))
			r.Reap()
			if s.CloseCount() != 0 {
				t.Fatal("the session ended before its expiry")
			}
			// At the expiry: the reaper ends it.
			clk.Add(time.Second)
			r.Reap()
			if s.CloseCount() != 1 {
				t.Fatalf("the session was closed %d times at its expiry, want 1", s.CloseCount())
			}
			if infos, _ := r.List(context.Background(), "alice"); len(infos) != 0 {
				t.Errorf("List after the expiry = %+v, want none", infos)
			}
			out := run(t, r, "alice", "s", "x")
			if result(out) != "NameError" || !out.Result.Session.Restarted || out.Result.Session.Call != 1 || !strings.Contains(out.Result.Session.Reason, tt.wantReason) {
				t.Errorf("next call: %q, %+v; want a NameError in call 1 of a restarted session, reason containing %q", result(out), out.Result.Session, tt.wantReason)
			}
			if out := run(t, r, "alice", "s", "x = 1"); out.Result.Session.Restarted {
				t.Error("the call after the restarted one is told again")
			}
		})
	}
}

// TestExpiryWithoutReaperRun: a call that arrives after its session's
// expiry, before the reaper has run, gets a new interpreter, told why.
func TestExpiryWithoutReaperRun(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	clk := newClock()
	r := newRegistry(t, b, config(), clk.Now)
	run(t, r, "alice", "s", "x = 1")
	clk.Add(config().IdleTTL)
	out := run(t, r, "alice", "s", "x")
	if !out.Result.Session.Restarted || result(out) != "NameError" || len(b.Started()) != 2 || b.Started()[0].CloseCount() != 1 {
		t.Errorf("call after the expiry: %+v, %q, %d sessions started; want a restarted session, the old one closed", out.Result.Session, result(out), len(b.Started()))
	}
}

// TestReaperEndsSessionsOnTime: the reaper, left to itself, ends a session
// exactly at its idle expiry, counted from its last call. The test runs in
// a synctest bubble, whose clock moves only when every goroutine waits: the
// registry's clock and timers are the bubble's, so nothing here depends on
// how fast the machine is.
func TestReaperEndsSessionsOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &sandboxtest.SessionBackend{}
		cfg := config()
		r := newRegistry(t, b, cfg, nil)
		start := time.Now()
		run(t, r, "alice", "s", "x = 1")
		s := sessionOf(t, b, "alice", "s")

		time.Sleep(cfg.IdleTTL / 2) // the bubble's clock: no real time passes
		run(t, r, "alice", "s", "x")
		lastUse := time.Now()
		<-s.Closed()
		if ended := time.Since(start); time.Since(lastUse) != cfg.IdleTTL {
			t.Errorf("the session ended %s after it started and %s after its last use; want %s after its last use", ended, time.Since(lastUse), cfg.IdleTTL)
		}
	})
}

// every returns step, 2·step, ... up to last.
func every(step, last time.Duration) []time.Duration {
	var out []time.Duration
	for d := step; d <= last; d += step {
		out = append(out, d)
	}
	return out
}

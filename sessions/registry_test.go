package sessions_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/sessions"
)

// TestSessionsByOwnerAndName: a session is created on first use with the
// configured limits and reused by the next call of its owner and name;
// another owner, or another name, gets a session of its own and never
// sees the first one's state.
func TestSessionsByOwnerAndName(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	cfg := config()
	cfg.MaxTotal = 8
	r := newRegistry(t, b, cfg, newClock().Now)
	steps := []struct {
		owner, name, code string
		want              string
		wantCall          int
	}{
		{"token:alice", "data", "x = 41", "", 1},
		{"token:alice", "data", "x", "41", 2},
		{"token:bob", "data", "x", "NameError", 1}, // the same name, another owner
		{"token:bob", "data", "x = 7", "", 2},
		{"token:alice", "other", "x", "NameError", 1}, // the same owner, another name
		{"token:alice", "data", "x", "41", 3},
		{"token:bob", "data", "x", "7", 3},
	}
	for i, s := range steps {
		out := run(t, r, s.owner, s.name, s.code)
		if got := result(out); got != s.want || out.Result.Session.Call != s.wantCall || out.Result.Session.Restarted || out.Ended != "" {
			t.Errorf("step %d: %s/%s %q = %q, call %d, restarted %v, ended %q; want %q, call %d, not restarted",
				i+1, s.owner, s.name, s.code, got, out.Result.Session.Call, out.Result.Session.Restarted, out.Ended, s.want, s.wantCall)
		}
	}
	var keys []sandbox.SessionKey
	for _, s := range b.Started() {
		keys = append(keys, s.Key())
	}
	wantKeys := []sandbox.SessionKey{{Owner: "token:alice", Name: "data"}, {Owner: "token:bob", Name: "data"}, {Owner: "token:alice", Name: "other"}}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("sessions started: %v, want %v", keys, wantKeys)
	}
	for i, l := range b.StartLimits() {
		if l != cfg.Limits {
			t.Errorf("session %d started with limits %+v, want %+v", i, l, cfg.Limits)
		}
	}
}

// TestSessionLimits: a client over max_per_client, or the server over
// max_total, gets a LimitError naming the limit and the caller's sessions;
// ending a session, or one expiring, makes room again.
func TestSessionLimits(t *testing.T) {
	tests := []struct {
		name string
		// before are the sessions made first (owner/name); then alice asks
		// for "new".
		before    []sandbox.SessionKey
		wantLimit string
		wantYours []string
		wantText  []string
	}{
		{
			name:      "per client",
			before:    []sandbox.SessionKey{{Owner: "alice", Name: "a"}, {Owner: "alice", Name: "b"}},
			wantLimit: sessions.LimitPerClient,
			wantYours: []string{"a", "b"},
			wantText:  []string{`you already have 2 sessions ("a" and "b")`, "sessions.max_per_client", "end_session", "2026-12-03T10:15:00Z"},
		},
		{
			name:      "total, caller has one",
			before:    []sandbox.SessionKey{{Owner: "alice", Name: "a"}, {Owner: "bob", Name: "a"}, {Owner: "bob", Name: "b"}},
			wantLimit: sessions.LimitTotal,
			wantYours: []string{"a"},
			wantText:  []string{"3 sessions across all clients", "sessions.max_total", `end one of yours ("a") with end_session`},
		},
		{
			name:      "total, caller has none",
			before:    []sandbox.SessionKey{{Owner: "bob", Name: "a"}, {Owner: "bob", Name: "b"}, {Owner: "carol", Name: "a"}},
			wantLimit: sessions.LimitTotal,
			wantText:  []string{"sessions.max_total", "try again later", "900 s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &sandboxtest.SessionBackend{}
			clk := newClock()
			r := newRegistry(t, b, config(), clk.Now)
			for _, k := range tt.before {
				run(t, r, k.Owner, k.Name, "x = 1")
			}
			_, err := r.Execute(context.Background(), "alice", "new", sandbox.Request{Code: "x = 1"})
			var le *sessions.LimitError
			if !errors.As(err, &le) {
				t.Fatalf("over the limit: %v, want a LimitError", err)
			}
			if le.Limit != tt.wantLimit || !reflect.DeepEqual(le.Yours, tt.wantYours) {
				t.Errorf("LimitError %s, yours %v; want %s, %v", le.Limit, le.Yours, tt.wantLimit, tt.wantYours)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
			if n := len(b.Started()); n != len(tt.before) {
				t.Errorf("%d sandboxes started, want %d: a refused session must start none", n, len(tt.before))
			}

			// Ending one of the sessions makes room.
			first := tt.before[0]
			if _, err := r.End(context.Background(), first.Owner, first.Name); err != nil {
				t.Fatalf("End: %v", err)
			}
			run(t, r, "alice", "new", "x = 1")

			// So does a session expiring, even before the reaper ran.
			if _, err := r.Execute(context.Background(), "alice", "newer", sandbox.Request{Code: "x = 1"}); !errors.As(err, &le) {
				t.Fatalf("over the limit again: %v, want a LimitError", err)
			}
			clk.Add(config().IdleTTL)
			run(t, r, "alice", "newer", "x = 1")
		})
	}
}

// TestStartFailure: a session that cannot start is the call's error,
// counts against no limit, and the next call starts one.
func TestStartFailure(t *testing.T) {
	boom := errors.New("no sandbox for you")
	b := &sandboxtest.SessionBackend{StartErr: boom}
	r := newRegistry(t, b, config(), newClock().Now)
	for range 3 {
		if _, err := r.Execute(context.Background(), "alice", "a", sandbox.Request{Code: "x = 1"}); !errors.Is(err, boom) {
			t.Fatalf("Execute = %v, want the start error", err)
		}
	}
	b.StartErr = nil
	run(t, r, "alice", "a", "x = 1")
	out := run(t, r, "alice", "b", "x = 1")
	if out.Result.Session.Restarted {
		t.Error("a session whose start failed counts as lost state")
	}
}

// TestInvalidName: a name the input schema refuses never reaches the
// backend.
func TestInvalidName(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	r := newRegistry(t, b, config(), nil)
	for _, name := range []string{"", "a b", "../x", strings.Repeat("a", 65), "ünï"} {
		if _, err := r.Execute(context.Background(), "alice", name, sandbox.Request{Code: "x = 1"}); err == nil {
			t.Errorf("Execute with name %q succeeded", name)
		}
	}
	if len(b.Started()) != 0 || len(b.Finds()) != 0 {
		t.Errorf("the backend was asked: %d started, finds %v", len(b.Started()), b.Finds())
	}
}

// TestClose: Close(true) ends every session, Close(false) leaves them to
// the backend; either way later calls are refused.
func TestClose(t *testing.T) {
	for _, end := range []bool{true, false} {
		b := &sandboxtest.SessionBackend{}
		r, err := sessions.New(sessions.Options{Config: config(), Backend: b})
		if err != nil {
			t.Fatal(err)
		}
		run(t, r, "alice", "a", "x = 1")
		run(t, r, "bob", "a", "x = 1")
		if err := r.Close(end); err != nil {
			t.Errorf("Close(%v): %v", end, err)
		}
		for _, s := range b.Started() {
			if got := s.CloseCount() > 0; got != end {
				t.Errorf("Close(%v): session %v closed: %v", end, s.Key(), got)
			}
		}
		if _, err := r.Execute(context.Background(), "alice", "a", sandbox.Request{Code: "x"}); !errors.Is(err, sessions.ErrClosed) {
			t.Errorf("Execute after Close(%v) = %v, want ErrClosed", end, err)
		}
		if err := r.Close(end); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
}

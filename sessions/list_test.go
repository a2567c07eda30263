package sessions_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/sessions"
)

// TestList: an owner's sessions, sorted by name, with when they started
// and were last used, their calls, memory and expiry; never another
// owner's.
func TestList(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	clk := newClock()
	r := newRegistry(t, b, config(), clk.Now)
	run(t, r, "alice", "zeta", "x = 1")
	clk.Add(time.Minute)
	run(t, r, "alice", "alpha", "x = 1")
	clk.Add(time.Minute)
	run(t, r, "alice", "zeta", "x")
	run(t, r, "bob", "mine", "x = 1")
	sessionOf(t, b, "alice", "zeta").SetMemoryBytes(42 << 20)

	infos, err := r.List(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := []sessions.Info{
		{Name: "alpha", Created: t0.Add(time.Minute), LastUsed: t0.Add(time.Minute), Calls: 1, ExpiresAt: t0.Add(16 * time.Minute)},
		{Name: "zeta", Created: t0, LastUsed: t0.Add(2 * time.Minute), Calls: 2, MemoryBytes: 42 << 20, ExpiresAt: t0.Add(17 * time.Minute)},
	}
	if !reflect.DeepEqual(infos, want) {
		t.Errorf("List(alice) =\n%+v\nwant\n%+v", infos, want)
	}
	if infos, _ := r.List(context.Background(), "carol"); len(infos) != 0 {
		t.Errorf("List(carol) = %+v, want none", infos)
	}
}

// TestEnd: end_session closes the session and frees its place; the name
// then starts afresh, without a restart notice (the client asked). Ending
// a session the owner does not have names the live ones; ending one that
// died says why it ended.
func TestEnd(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	r := newRegistry(t, b, config(), newClock().Now)
	run(t, r, "alice", "a", "x = 1")
	run(t, r, "alice", "a", "x")
	run(t, r, "alice", "b", "x = 1")
	run(t, r, "bob", "c", "x = 1")

	calls, err := r.End(context.Background(), "alice", "a")
	if err != nil || calls != 2 {
		t.Fatalf("End(a) = %d, %v; want 2 calls", calls, err)
	}
	if sessionOf(t, b, "alice", "a").CloseCount() != 1 {
		t.Error("End did not close the sandbox")
	}
	if infos, _ := r.List(context.Background(), "alice"); !reflect.DeepEqual(names(infos), []string{"b"}) {
		t.Errorf("after End: %v, want [b]", names(infos))
	}

	tests := []struct {
		owner, name string
		wantLive    []string
		wantText    []string
	}{
		{"alice", "a", []string{"b"}, []string{`There is no session "a" to end`, `your live sessions are "b"`}},
		{"alice", "c", []string{"b"}, []string{`no session "c"`}}, // bob's session: not alice's to end
		{"carol", "a", nil, []string{"you have no live sessions"}},
	}
	for _, tt := range tests {
		_, err := r.End(context.Background(), tt.owner, tt.name)
		var ue *sessions.UnknownError
		if !errors.As(err, &ue) || !reflect.DeepEqual(ue.Live, tt.wantLive) {
			t.Errorf("End(%s, %s) = %v, want an UnknownError listing %v", tt.owner, tt.name, err, tt.wantLive)
			continue
		}
		for _, w := range tt.wantText {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("End(%s, %s): %q lacks %q", tt.owner, tt.name, err, w)
			}
		}
	}
	if sessionOf(t, b, "bob", "c").CloseCount() != 0 {
		t.Error("alice ended bob's session")
	}

	// The name starts afresh, not as a restart.
	if out := run(t, r, "alice", "a", "x"); result(out) != "NameError" || out.Result.Session.Restarted || out.Result.Session.Call != 1 {
		t.Errorf("after End, the name's next call: %q, %+v; want a fresh session, not restarted", result(out), out.Result.Session)
	}

	// A session that died says so.
	sessionOf(t, b, "alice", "b").Kill(sandboxtest.CrashReason)
	<-sessionOf(t, b, "alice", "b").Closed()
	_, err = r.End(context.Background(), "alice", "b")
	var ue *sessions.UnknownError
	if !errors.As(err, &ue) || ue.Ended != sandboxtest.CrashReason || !strings.Contains(err.Error(), "already ended (the interpreter crashed (SIGSEGV))") {
		t.Errorf("End of a dead session = %v, want an UnknownError saying it crashed", err)
	}
}

// TestFoundAgain: on the first use of an owner, the sessions a previous
// server left are taken in — newest first, one per name, within the
// limits — and continue their call count; the backend is asked once per
// owner, and asked again after a failure.
func TestFoundAgain(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	key := func(name string) sandbox.SessionKey { return sandbox.SessionKey{Owner: "alice", Name: name} }
	older := sandboxtest.NewSession(key("data"), t0.Add(-2*time.Hour), 5)
	newer := sandboxtest.NewSession(key("data"), t0.Add(-time.Hour), 7)
	other := sandboxtest.NewSession(key("other"), t0.Add(-3*time.Hour), 1)
	third := sandboxtest.NewSession(key("third"), t0.Add(-4*time.Hour), 1) // over max_per_client (2)
	dead := sandboxtest.NewSession(key("dead"), t0, 1)
	dead.Kill("gone")
	b.Leave("alice", older, newer, other, third, dead)
	boom := errors.New("control plane unreachable")
	b.FindErr = boom
	r := newRegistry(t, b, config(), newClock().Now)

	if _, err := r.Execute(context.Background(), "alice", "data", sandbox.Request{Code: "x"}); !errors.Is(err, boom) {
		t.Fatalf("Execute while the backend cannot look = %v, want its error", err)
	}
	b.FindErr = nil
	out := run(t, r, "alice", "data", "x = 1")
	if out.Result.Session.Call != 8 || out.Result.Session.Restarted || len(b.Started()) != 0 {
		t.Errorf("first call = %+v with %d new sessions; want call 8 of the newer session found, none started", out.Result.Session, len(b.Started()))
	}
	if len(newer.Requests()) != 1 || len(older.Requests()) != 0 {
		t.Error("the call did not run in the newest session of its name")
	}
	infos, err := r.List(context.Background(), "alice")
	if err != nil || !reflect.DeepEqual(names(infos), []string{"data", "other"}) || !infos[0].Created.Equal(newer.Created()) {
		t.Errorf("List = %+v, %v; want data (found, created %v) and other", infos, err, newer.Created())
	}
	if _, err := r.Execute(context.Background(), "alice", "new", sandbox.Request{Code: "x = 1"}); !errors.As(err, new(*sessions.LimitError)) {
		t.Errorf("a third session = %v; the found ones count against max_per_client", err)
	}
	run(t, r, "bob", "data", "x = 1")
	if got := b.Finds(); !reflect.DeepEqual(got, []string{"alice", "alice", "bob"}) {
		t.Errorf("FindSessions asked for %v, want alice (failed), alice, bob", got)
	}
	for _, s := range []*sandboxtest.Session{older, third} {
		if s.CloseCount() != 0 {
			t.Errorf("session %v was not taken in but was closed: it is the backend's to end", s.Key())
		}
	}
}

package sandboxtest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// run executes code in s and fails the test on a Go error.
func run(t *testing.T, s sandbox.Session, code string) sandbox.Result {
	t.Helper()
	res, err := s.Execute(context.Background(), sandbox.Request{Code: code})
	if err != nil {
		t.Fatalf("Execute(%q): %v", code, err)
	}
	return res
}

// TestSessionKeepsState: a fake session's state persists across calls,
// each call counts, and the backend records what it started and how.
func TestSessionKeepsState(t *testing.T) {
	created := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	b := &sandboxtest.SessionBackend{Now: func() time.Time { return created }}
	key := sandbox.SessionKey{Owner: "token:ci", Name: "data"}
	limits := sandbox.Limits{MemoryBytes: 1 << 29}
	s, err := b.StartSession(context.Background(), key, limits)
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	if s.Key() != key || !s.Created().Equal(created) || s.ID() == "" || s.Calls() != 0 {
		t.Errorf("session %v created %v id %q calls %d; want %v, %v, an id, 0", s.Key(), s.Created(), s.ID(), s.Calls(), key, created)
	}
	tests := []struct {
		code       string
		wantStatus sandbox.Status
		wantResult string
		wantError  string
	}{
		{"x = 41", sandbox.StatusOK, "", ""},
		{"x", sandbox.StatusOK, "41", ""},
		{"y", sandbox.StatusError, "", "NameError"},
		{"x = 42\n\nx", sandbox.StatusOK, "42", ""},
		{"timeout", sandbox.StatusTimeout, "", "Timeout"},
		{"x", sandbox.StatusOK, "42", ""},
	}
	for i, tt := range tests {
		res := run(t, s, tt.code)
		got := ""
		if res.Result != nil {
			got = *res.Result
		}
		errType := ""
		if res.Error != nil {
			errType = res.Error.Type
		}
		if res.Status != tt.wantStatus || got != tt.wantResult || errType != tt.wantError || res.SandboxID != s.ID() {
			t.Errorf("call %d %q = %s result %q error %q sandbox %q; want %s, %q, %q, %q", i+1, tt.code, res.Status, got, errType, res.SandboxID, tt.wantStatus, tt.wantResult, tt.wantError, s.ID())
		}
	}
	if s.Calls() != len(tests) {
		t.Errorf("Calls() = %d, want %d", s.Calls(), len(tests))
	}
	if started := b.Started(); len(started) != 1 || started[0] != s || b.StartLimits()[0] != limits {
		t.Errorf("Started() = %v with limits %v; want the one session with %v", started, b.StartLimits(), limits)
	}
	if reqs := b.Started()[0].Requests(); len(reqs) != len(tests) || reqs[0].Code != "x = 41" {
		t.Errorf("Requests() = %+v", reqs)
	}
	if v, ok := b.Started()[0].Value("x"); !ok || v != "42" {
		t.Errorf("Value(x) = %q, %v; want 42", v, ok)
	}
}

// TestSessionEnds: a crash, a kill or Close ends the session with a
// reason; a call on an ended session is an error; Close is idempotent.
func TestSessionEnds(t *testing.T) {
	tests := []struct {
		name       string
		end        func(t *testing.T, s *sandboxtest.Session)
		wantReason string
	}{
		{"crash", func(t *testing.T, s *sandboxtest.Session) {
			if res := run(t, s, "x = 1\ncrash\ny = 2"); res.Status != sandbox.StatusKilled {
				t.Errorf("crash: status %s, want killed", res.Status)
			}
		}, sandboxtest.CrashReason},
		{"die", func(t *testing.T, s *sandboxtest.Session) { run(t, s, "die: memory limit") }, "memory limit"},
		{"kill", func(_ *testing.T, s *sandboxtest.Session) { s.Kill("preempted") }, "preempted"},
		{"close", func(_ *testing.T, s *sandboxtest.Session) { _ = s.Close() }, sandboxtest.ClosedReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &sandboxtest.SessionBackend{}
			ss, err := b.StartSession(context.Background(), sandbox.SessionKey{Owner: "o", Name: "n"}, sandbox.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			s := b.Started()[0]
			tt.end(t, s)
			select {
			case <-ss.Done():
			default:
				t.Fatal("Done is not closed")
			}
			if s.Reason() != tt.wantReason {
				t.Errorf("Reason() = %q, want %q", s.Reason(), tt.wantReason)
			}
			if _, err := ss.Execute(context.Background(), sandbox.Request{Code: "x"}); !errors.Is(err, sandboxtest.ErrSessionEnded) {
				t.Errorf("Execute after the end: %v, want ErrSessionEnded", err)
			}
			_ = s.Close()
			_ = s.Close()
			<-s.Closed()
			if s.Reason() != tt.wantReason || s.CloseCount() != 2+boolInt(tt.name == "close") {
				t.Errorf("after Close: reason %q, %d closes", s.Reason(), s.CloseCount())
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSessionBackendFindAndFail: FindSessions returns the live sessions
// left for the owner asked about, and records the question; StartErr and
// FindErr are returned as set.
func TestSessionBackendFindAndFail(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	live := sandboxtest.NewSession(sandbox.SessionKey{Owner: "a", Name: "x"}, time.Unix(0, 0), 7)
	dead := sandboxtest.NewSession(sandbox.SessionKey{Owner: "a", Name: "y"}, time.Unix(0, 0), 1)
	dead.Kill("gone")
	b.Leave("a", live, dead)
	found, err := b.FindSessions(context.Background(), "a")
	if err != nil || len(found) != 1 || found[0] != live || found[0].Calls() != 7 {
		t.Errorf("FindSessions(a) = %v, %v; want the live session with 7 calls", found, err)
	}
	if found, err := b.FindSessions(context.Background(), "b"); err != nil || len(found) != 0 {
		t.Errorf("FindSessions(b) = %v, %v; want none", found, err)
	}
	if got := b.Finds(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("Finds() = %v", got)
	}
	boom := errors.New("boom")
	b.StartErr, b.FindErr = boom, boom
	if _, err := b.StartSession(context.Background(), sandbox.SessionKey{}, sandbox.Limits{}); !errors.Is(err, boom) {
		t.Errorf("StartSession = %v, want StartErr", err)
	}
	if _, err := b.FindSessions(context.Background(), "a"); !errors.Is(err, boom) {
		t.Errorf("FindSessions = %v, want FindErr", err)
	}
}

// TestSessionHold: held session calls wait inside Execute, across
// sessions at once, until released; one whose ctx ends returns its error.
func TestSessionHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &sandboxtest.SessionBackend{}
		b.HoldSessions()
		var ss []sandbox.Session
		for _, name := range []string{"a", "b"} {
			s, err := b.StartSession(context.Background(), sandbox.SessionKey{Owner: "o", Name: name}, sandbox.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			ss = append(ss, s)
		}
		var wg sync.WaitGroup
		for _, s := range ss {
			wg.Go(func() {
				if res, err := s.Execute(context.Background(), sandbox.Request{Code: "x = 1"}); err != nil || res.Status != sandbox.StatusOK {
					t.Errorf("held call: %+v, %v", res, err)
				}
			})
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancelled := make(chan error, 1)
		go func() {
			_, err := ss[0].Execute(ctx, sandbox.Request{Code: "y = 1"})
			cancelled <- err
		}()
		synctest.Wait()
		if b.SessionsRunning() != 3 {
			t.Errorf("SessionsRunning() = %d while held, want 3", b.SessionsRunning())
		}
		cancel()
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled held call = %v, want Canceled", err)
		}
		b.ReleaseSessions()
		wg.Wait()
		if b.SessionsRunning() != 0 || b.SessionsPeak() != 3 || b.Started()[0].Peak() != 2 {
			t.Errorf("after release: running %d, peak %d, session a peak %d; want 0, 3, 2", b.SessionsRunning(), b.SessionsPeak(), b.Started()[0].Peak())
		}
	})
}

// TestSessionKeepsFiles: a file one call gives stays in the session for
// later calls, which can return it; a file no call gave cannot be.
func TestSessionKeepsFiles(t *testing.T) {
	b := &sandboxtest.SessionBackend{}
	s, err := b.StartSession(context.Background(), sandbox.SessionKey{Owner: "o", Name: "n"}, sandbox.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Execute(context.Background(), sandbox.Request{Code: "x = 1", Files: []sandbox.InFile{{Path: "data/a.csv", Data: []byte("a,b\n")}}}); err != nil {
		t.Fatal(err)
	}
	res := run(t, s, "return: data/a.csv")
	if len(res.Files) != 1 || res.Files[0].Path != "a.csv" || string(res.Files[0].Data) != "a,b\n" || res.Files[0].Size != 4 {
		t.Errorf("files %+v, want out/a.csv with the content given earlier", res.Files)
	}
	if res := run(t, s, "return: nope.csv"); res.Status != sandbox.StatusError || res.Error == nil || res.Error.Type != "FileNotFoundError" {
		t.Errorf("returning a file never given: %+v, want a FileNotFoundError", res)
	}
}

package sessions_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/sessions"
)

// t0 is when every test's clock starts.
var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// clock is an injected clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// config is a session policy small enough to reach its limits.
func config() sessions.Config {
	return sessions.Config{MaxPerClient: 2, MaxTotal: 3, IdleTTL: 15 * time.Minute, MaxLifetime: 4 * time.Hour,
		Limits: sandbox.Limits{MemoryBytes: 512 << 20, MaxProcesses: 64}, TurnTimeout: 30 * time.Second}
}

// newRegistry starts a registry on b with cfg and the clock now (nil: the
// real one), closed when the test ends.
func newRegistry(t *testing.T, b sandbox.SessionBackend, cfg sessions.Config, now func() time.Time) *sessions.Registry {
	t.Helper()
	r, err := sessions.New(sessions.Options{Config: cfg, Backend: b, Now: now})
	if err != nil {
		t.Fatalf("sessions.New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close(true) })
	return r
}

// run runs code in the session name of owner and fails the test on an
// error.
func run(t *testing.T, r *sessions.Registry, owner, name, code string) sessions.Outcome {
	t.Helper()
	out, err := r.Execute(context.Background(), owner, name, sandbox.Request{Code: code})
	if err != nil {
		t.Fatalf("Execute(%s, %s, %q): %v", owner, name, code, err)
	}
	if out.Result.Session == nil || out.Result.Session.Name != name {
		t.Fatalf("Execute(%s, %s, %q): result's session is %+v, want %q", owner, name, code, out.Result.Session, name)
	}
	return out
}

// result is the repr a call returned, or its error type.
func result(out sessions.Outcome) string {
	switch {
	case out.Result.Result != nil:
		return *out.Result.Result
	case out.Result.Error != nil:
		return out.Result.Error.Type
	}
	return ""
}

// sessionOf returns the fake session b started for owner and name, the
// latest one.
func sessionOf(t *testing.T, b *sandboxtest.SessionBackend, owner, name string) *sandboxtest.Session {
	t.Helper()
	started := b.Started()
	for i := len(started) - 1; i >= 0; i-- {
		if k := started[i].Key(); k.Owner == owner && k.Name == name {
			return started[i]
		}
	}
	t.Fatalf("no session %s/%s was started", owner, name)
	return nil
}

// outcome is a call's outcome.
type outcome = sessions.Outcome

// runner runs code in the test's session.
type runner = func(t *testing.T, code string) outcome

// names lists the names of infos.
func names(infos []sessions.Info) []string {
	var out []string
	for _, i := range infos {
		out = append(out, i.Name)
	}
	return out
}

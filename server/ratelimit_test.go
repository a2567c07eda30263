package server

import (
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/airlock-mcp/airlock-mcp/tools"
)

// TestRateLimiter: each client gets its own bucket of burst calls that
// refills at perMinute; a refused call says how long to wait and does not
// use up a token.
func TestRateLimiter(t *testing.T) {
	r := newRateLimiter(60, 3) // one call a second, bursts of 3
	now := time.Unix(1_000_000, 0)
	steps := []struct {
		client string
		at     time.Duration
		ok     bool
		wait   time.Duration
	}{
		{"alice", 0, true, 0},
		{"alice", 0, true, 0},
		{"alice", 0, true, 0},
		{"alice", 0, false, time.Second},
		{"alice", 0, false, time.Second}, // a refusal costs nothing
		{"bob", 0, true, 0},              // other clients are not affected
		{"alice", 500 * time.Millisecond, false, 500 * time.Millisecond},
		{"alice", time.Second, true, 0},
		{"alice", time.Second, false, time.Second},
	}
	for i, s := range steps {
		ok, wait := r.allow(s.client, now.Add(s.at))
		if ok != s.ok || wait != s.wait {
			t.Errorf("step %d (%s at %s): allow = %v, %s; want %v, %s", i, s.client, s.at, ok, wait, s.ok, s.wait)
		}
	}
	if newRateLimiter(0, 10) != nil {
		t.Error("perMinute 0 should mean no limiter")
	}
}

// TestLimitRecordsTheRefusal: a call over its client's rate gets an isError
// result naming the client, the limit and when to retry, recorded in the
// call's record; without a limit every call passes.
func TestLimitRecordsTheRefusal(t *testing.T) {
	r := newRateLimiter(2, 1)
	now := time.Unix(1_000_000, 0)
	newCall := func() *tools.Call {
		c := tools.NewCall(mcp.CallToolRequest{})
		c.Client = "ci-bot"
		return c
	}
	if res := r.limit(newCall(), now); res != nil {
		t.Fatalf("first call refused: %+v", res)
	}
	c := newCall()
	res := r.limit(c, now)
	if res == nil || !res.IsError {
		t.Fatalf("second call: %+v, want an isError result", res)
	}
	const want = `Rate limit: client "ci-bot" may make 2 calls per minute (bursts of 1); try again in 30 s.`
	if text := res.Content[0].(mcp.TextContent).Text; text != want {
		t.Errorf("message = %q, want %q", text, want)
	}
	if c.Status != tools.OutcomeRateLimited || c.Reason != want {
		t.Errorf("recorded %q, %q; want %q and the message", c.Status, c.Reason, tools.OutcomeRateLimited)
	}
	var none *rateLimiter
	if res := none.limit(newCall(), now); res != nil {
		t.Error("no limiter refused a call")
	}
}

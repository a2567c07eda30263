package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
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

func TestLimitRateMiddleware(t *testing.T) {
	calls := 0
	next := func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		calls++
		return mcp.NewToolResultText("ran"), nil
	}
	h := limitRate(newRateLimiter(2, 1), anonymousClient)(next)
	ctx := context.WithValue(context.Background(), clientKey{}, "ci-bot")
	if res, _ := h(ctx, mcp.CallToolRequest{}); res.IsError {
		t.Fatalf("first call refused: %+v", res)
	}
	res, _ := h(ctx, mcp.CallToolRequest{})
	if !res.IsError || calls != 1 {
		t.Fatalf("second call: %+v, calls %d", res, calls)
	}
	text := res.Content[0].(mcp.TextContent).Text
	if !strings.Contains(text, `Rate limit: client "ci-bot" may make 2 calls per minute (bursts of 1); try again in 30 s.`) {
		t.Errorf("message = %q", text)
	}
	// Without a limit the middleware is a pass-through.
	if res, _ := limitRate(nil, anonymousClient)(next)(ctx, mcp.CallToolRequest{}); res.IsError {
		t.Error("nil limiter refused a call")
	}
}

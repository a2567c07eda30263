package server

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/time/rate"

	"github.com/airlock-mcp/airlock-mcp/tools"
)

// anonymousClient names every caller without an identity by default:
// HTTP clients on a loopback server without tokens. They share one rate
// limit.
const anonymousClient = "anonymous"

// rateLimiter holds one token bucket per client identity.
type rateLimiter struct {
	perMinute, burst int
	mu               sync.Mutex
	clients          map[string]*rate.Limiter
}

// newRateLimiter limits each client to perMinute calls a minute on average,
// in bursts of up to burst. perMinute 0 means no limit (nil).
func newRateLimiter(perMinute, burst int) *rateLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &rateLimiter{perMinute: perMinute, burst: max(1, burst), clients: map[string]*rate.Limiter{}}
}

// limiter returns client's bucket, creating it full.
func (r *rateLimiter) limiter(client string) *rate.Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.clients[client]
	if !ok {
		l = rate.NewLimiter(rate.Limit(float64(r.perMinute)/60), r.burst)
		r.clients[client] = l
	}
	return l
}

// allow takes a call from client's bucket, or says how long until one is
// available.
func (r *rateLimiter) allow(client string, now time.Time) (bool, time.Duration) {
	l := r.limiter(client)
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limit takes call from its client's bucket, or refuses it with an isError
// result that names the limit and when to retry, recorded in call. A nil
// r limits nothing.
func (r *rateLimiter) limit(call *tools.Call, now time.Time) *mcp.CallToolResult {
	if r == nil {
		return nil
	}
	ok, wait := r.allow(call.Client, now)
	if ok {
		return nil
	}
	calls := "calls"
	if r.perMinute == 1 {
		calls = "call"
	}
	msg := fmt.Sprintf("Rate limit: client %q may make %d %s per minute (bursts of %d); try again in %d s.",
		call.Client, r.perMinute, calls, r.burst, int(math.Ceil(wait.Seconds())))
	call.SetStatus(tools.OutcomeRateLimited, msg)
	return mcp.NewToolResultError(msg)
}

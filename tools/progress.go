package tools

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
)

// ProgressInterval is how often a long execution reports progress
// to a client that asked for it.
const ProgressInterval = 2 * time.Second

// startProgress sends notifications/progress every interval while the call
// behind ctx runs, when the client sent a progress token: progress is the
// seconds elapsed, total the call's timeout, so a client with its own
// timeout keeps waiting. The returned stop ends the reports and returns
// only once no more can be sent, so none follows the result.
func startProgress(ctx context.Context, req mcp.CallToolRequest, interval, timeout time.Duration) (stop func()) {
	if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
		return func() {}
	}
	srv := mcpserver.ServerFromContext(ctx)
	if srv == nil {
		return func() {}
	}
	token := req.Params.Meta.ProgressToken
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				elapsed := now.Sub(start)
				_ = srv.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), map[string]any{
					"progressToken": token,
					"progress":      math.Round(elapsed.Seconds()*10) / 10,
					"total":         timeout.Seconds(),
					"message":       fmt.Sprintf("running for %.0f s (timeout %.0f s)", elapsed.Seconds(), timeout.Seconds()),
				})
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

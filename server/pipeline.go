package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/server/audit"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// pipeline runs every tool call through the Airlock layer, one record per
// call (tools.Call): it makes the record, decoding the arguments once, ties
// the call to the server's stop context, refuses a call over its client's
// rate or with arguments its tool's input schema refuses, runs the tool's
// handler (a panic becomes the call's Go error), and once the call is over
// logs, counts and audits it, all from the record.
type pipeline struct {
	log     *zap.Logger
	limiter *rateLimiter     // nil: no rate limit
	audit   *audit.Writer    // nil: no audit log
	metrics *metrics.Metrics // nil: no metrics
	policy  *policy.Policy
	// policySHA256 is computed once: the policy never changes while the
	// server runs.
	policySHA256 string
	backend      string
	// stop, when it ends, cancels every call in progress (shutdown).
	stop context.Context
	// inFlight, when not nil, holds each call until it is recorded.
	inFlight *sync.WaitGroup
	// anonymous is the identity of callers without one: "stdio" on stdio,
	// "anonymous" over HTTP without tokens.
	anonymous string
}

// handler is the mcp-go handler of tool t: the pipeline around t.Handler.
func (p *pipeline) handler(t tools.Tool) mcpserver.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return p.run(ctx, t, req)
	}
}

// run serves one call to t.
func (p *pipeline) run(ctx context.Context, t tools.Tool, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	if p.inFlight != nil {
		p.inFlight.Add(1)
		defer p.inFlight.Done()
	}
	call := tools.NewCall(req)
	call.Client = ClientIdentity(ctx)
	call.Authenticated = call.Client != ""
	if !call.Authenticated {
		call.Client = p.anonymous
	}
	if s := mcpserver.ClientSessionFromContext(ctx); s != nil {
		call.Session = s.SessionID()
	}
	// A shutdown cancels the call with sandbox.ErrShutdown as the cause, so
	// that the result says the server stopped it, not the client.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if p.stop != nil {
		defer context.AfterFunc(p.stop, func() { cancel(sandbox.ErrShutdown) })()
	}

	res, err := p.serve(ctx, t, call)
	call.Duration = time.Since(call.Received)
	call.Status = finalStatus(call, res, err)
	p.logCall(call, t.LogArgs, res, err)
	p.record(call, res, err)
	return res, err
}

// serve passes call through the rate limit and the argument validation to
// t's handler. A panic on the way is the call's Go error, as mcp-go's own
// recovery words it.
func (p *pipeline) serve(ctx context.Context, t tools.Tool, call *tools.Call) (res *mcp.CallToolResult, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("panic recovered in %s tool handler: %v", call.Tool, r)
		}
	}()
	if refused := p.limiter.limit(call, time.Now()); refused != nil {
		return refused, nil
	}
	if refused := validate(call, t.Input); refused != nil {
		return refused, nil
	}
	return t.Handler(ctx, call), nil
}

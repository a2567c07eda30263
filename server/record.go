package server

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/server/audit"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// recorder audits and counts every tool call.
type recorder struct {
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

// recordCalls returns the outermost middleware: it gives each call an
// Outcome the inner layers fill in, ties the call to the server's stop
// context, and once the call returns writes its audit record and metrics.
func (rc *recorder) recordCalls(next mcpserver.ToolHandlerFunc) mcpserver.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if rc.inFlight != nil {
			rc.inFlight.Add(1)
			defer rc.inFlight.Done()
		}
		received := time.Now()
		ctx, out := tools.WithOutcome(ctx)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if rc.stop != nil {
			defer context.AfterFunc(rc.stop, cancel)()
		}
		res, err := next(ctx, req)
		rc.record(ctx, req, received, time.Since(received), out.Snapshot(), res, err)
		return res, err
	}
}

// record writes the audit record and the metrics of one call.
func (rc *recorder) record(ctx context.Context, req mcp.CallToolRequest, received time.Time, d time.Duration, o tools.CallOutcome, res *mcp.CallToolResult, callErr error) {
	status := callStatus(o, res, callErr)
	rc.metrics.ObserveCall(req.Params.Name, rc.backend, status, d)
	if o.Denied {
		rc.metrics.Denied(o.Category)
	}
	if status == tools.OutcomeRateLimited {
		rc.metrics.Denied("rate_limit")
	}
	if rc.audit == nil {
		return
	}
	client := ClientIdentity(ctx)
	if client == "" {
		client = rc.anonymous
	}
	session := ""
	if s := mcpserver.ClientSessionFromContext(ctx); s != nil {
		session = s.SessionID()
	}
	output := toolOutput(res)
	r := audit.Record{
		Time:          received,
		Client:        client,
		Session:       session,
		Tool:          req.Params.Name,
		CodeSHA256:    o.CodeSHA256,
		CodeBytes:     o.CodeBytes,
		PolicyVersion: rc.policy.Version,
		PolicySHA256:  rc.policySHA256,
		Decision:      audit.DecisionAllowed,
		Backend:       rc.backend,
		Status:        status,
		DurationMS:    float64(d.Microseconds()) / 1000,
		// Hashed by the audit writer, from a copy: mcp-go decorates the
		// result in place (resultType, _meta) once it leaves the middleware.
		HashOutput: func() string { return outputHash(output, callErr) },
	}
	if o.Denied || status == tools.OutcomeRateLimited || status == tools.OutcomeInvalid {
		r.Decision, r.Reason = audit.DecisionDenied, o.Reason
	}
	if o.Result != nil {
		r.SandboxID = o.Result.SandboxID
		r.ExitCode = o.Result.ExitCode
		r.Network = networkSummary(o.Result.Network)
	}
	rc.audit.Write(r)
}

// callStatus is the status the audit log and metrics record for a call.
func callStatus(o tools.CallOutcome, res *mcp.CallToolResult, err error) string {
	switch {
	case err != nil:
		return tools.OutcomeFailed
	case o.Result != nil && o.Result.Error != nil && o.Result.Error.Type == "Cancelled":
		return tools.OutcomeCancelled
	case o.Status != "":
		return o.Status
	case res != nil && res.IsError:
		return string(sandbox.StatusError)
	}
	return string(sandbox.StatusOK)
}

// toolOutput copies what the tool returned, without the protocol's
// decoration (resultType, _meta) that the server adds to res in place after
// the middleware, possibly while the audit writer reads the copy. Content
// and structured content are shared: nothing changes them once returned.
func toolOutput(res *mcp.CallToolResult) *mcp.CallToolResult {
	if res == nil {
		return nil
	}
	out := *res
	out.Meta, out.ResultType = nil, ""
	return &out
}

// outputHash is the hex SHA-256 of the tool's result (see toolOutput) as
// encoded for the client.
func outputHash(res *mcp.CallToolResult, err error) string {
	var b []byte
	if err != nil {
		b = []byte(err.Error())
	} else if res != nil {
		b, _ = json.Marshal(res)
	}
	return audit.SHA256Hex(b)
}

// networkSummary condenses a ledger for the audit log.
func networkSummary(n *sandbox.Network) *audit.NetworkSummary {
	if n == nil {
		return nil
	}
	s := &audit.NetworkSummary{HostsDenied: []string{}}
	for _, c := range n.Connections {
		if c.Method == "static" {
			continue
		}
		// A summarised entry stands for Count attempts to one destination.
		attempts := max(c.Count, 1)
		s.Attempts += attempts
		s.BytesOut += c.BytesOut
		s.BytesIn += c.BytesIn
		if c.Allowed {
			s.Allowed += attempts
			continue
		}
		s.Denied += attempts
		if c.Host != "" && len(s.HostsDenied) < audit.MaxHostsDenied && !slices.Contains(s.HostsDenied, c.Host) {
			s.HostsDenied = append(s.HostsDenied, c.Host)
		}
	}
	return s
}

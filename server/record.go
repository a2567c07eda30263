package server

import (
	"encoding/json"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/server/audit"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// record counts call in the metrics and writes its audit record; res and
// callErr are what the client got.
func (p *pipeline) record(call *tools.Call, res *mcp.CallToolResult, callErr error) {
	p.metrics.ObserveCall(call.Tool, p.backend, call.Status, call.Duration)
	if call.Denied {
		p.metrics.Denied(call.Category)
	}
	if call.Status == tools.OutcomeRateLimited {
		p.metrics.Denied("rate_limit")
	}
	if p.audit == nil {
		return
	}
	output := toolOutput(res)
	r := audit.Record{
		Time:          call.Received,
		Client:        call.Client,
		Session:       call.Session,
		Tool:          call.Tool,
		PythonSession: call.SessionName,
		CodeSHA256:    call.CodeSHA256,
		CodeBytes:     call.CodeBytes,
		PolicyVersion: p.policy.Version,
		PolicySHA256:  p.policySHA256,
		Decision:      audit.DecisionAllowed,
		Backend:       p.backend,
		Status:        call.Status,
		DurationMS:    float64(call.Duration.Microseconds()) / 1000,
		// Hashed by the audit writer, from a copy: mcp-go decorates the
		// result in place (resultType, _meta) once it leaves the pipeline.
		HashOutput: func() string { return outputHash(output, callErr) },
	}
	if call.Denied || call.Status == tools.OutcomeRateLimited || call.Status == tools.OutcomeInvalid {
		r.Decision, r.Reason = audit.DecisionDenied, call.Reason
	}
	if call.Result != nil {
		r.SandboxID = call.Result.SandboxID
		r.ExitCode = call.Result.ExitCode
		r.Network = networkSummary(call.Result.Network)
	}
	p.audit.Write(r)
}

// finalStatus is the status the audit log and the metrics record for a
// call that ended with res and err.
func finalStatus(call *tools.Call, res *mcp.CallToolResult, err error) string {
	switch {
	case err != nil:
		return tools.OutcomeFailed
	case call.Result != nil && call.Result.Error != nil && call.Result.Error.Type == "Cancelled":
		return tools.OutcomeCancelled
	case call.Status != "":
		return call.Status
	case res != nil && res.IsError:
		return string(sandbox.StatusError)
	}
	return string(sandbox.StatusOK)
}

// toolOutput copies what the tool returned, without the protocol's
// decoration (resultType, _meta) that the server adds to res in place after
// the pipeline, possibly while the audit writer reads the copy. Content
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

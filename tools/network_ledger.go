package tools

import (
	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/policy/precheck"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// fillNetwork completes the result's network ledger with what the Airlock
// layer knows where the backend reports no connections (Modal with
// egress): the destinations the static check found in the code; elsewhere,
// when the backend left it empty, no network.
func (h *executePython) fillNetwork(res *sandbox.Result, pre precheck.Result) {
	switch {
	case h.staticLedger != nil:
		res.Network = &sandbox.Network{Enforcement: h.staticLedger.Enforcement, Note: h.staticLedger.Note, Connections: staticConnections(pre)}
	case res.Network == nil:
		res.Network = &sandbox.Network{Enforcement: sandbox.EnforcementNone, Connections: []sandbox.Connection{}}
	}
}

// enforcementFor says which destinations p's network policy denies a
// backend with capabilities c blocks itself while the code runs; nil when
// it blocks them all. With on_unenforceable: refuse no denied destination
// gets through; with advisory, the backend's gaps do.
func enforcementFor(p *policy.Policy, c sandbox.Capabilities) precheck.Enforcement {
	blocks := c.Blocker(p.Network.Rules())
	if blocks == nil {
		return nil
	}
	return func(f precheck.Finding) bool { return blocks(f.Host, f.Addr, f.Port) }
}

// staticLedgerFor is the enforcement and note of the ledger the Airlock
// layer fills in under p for a backend with capabilities c, or nil when
// the backend reports its own or there is no network.
func staticLedgerFor(p *policy.Policy, c sandbox.Capabilities) *sandbox.Network {
	return c.Ledger(p.Network.Rules(), p.Network.OnUnenforceable == policy.Advisory)
}

// staticConnections lists the static check's findings as ledger entries.
func staticConnections(pre precheck.Result) []sandbox.Connection {
	out := make([]sandbox.Connection, 0, len(pre.Findings))
	for _, f := range pre.Findings {
		c := sandbox.Connection{Host: f.Host, Port: f.Port, Method: "static", Allowed: f.Verdict.Allowed, Rule: f.Verdict.Rule}
		if !c.Allowed {
			c.Reason = f.Verdict.Reason
		}
		out = append(out, c)
	}
	return out
}

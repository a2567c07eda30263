package server

import (
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// TestEveryStatusIsAMetricsLabel: every status a call can be recorded with
// is a label value of its own in the metrics, not "other".
func TestEveryStatusIsAMetricsLabel(t *testing.T) {
	for _, s := range []string{
		string(sandbox.StatusOK), string(sandbox.StatusError), string(sandbox.StatusTimeout), string(sandbox.StatusKilled),
		tools.OutcomeInvalid, tools.OutcomeDenied, tools.OutcomeRateLimited, tools.OutcomeBusy, tools.OutcomeCancelled, tools.OutcomeFailed,
	} {
		if !metrics.KnownStatus(s) {
			t.Errorf("status %q is recorded as %q in the metrics", s, metrics.Other)
		}
	}
}

// TestNetworkSummaryCountsSummarisedAttempts: the audit summary counts every
// attempt a ledger entry stands for, lists each refused host once, and
// leaves out static findings (never attempted).
func TestNetworkSummaryCountsSummarisedAttempts(t *testing.T) {
	n := &sandbox.Network{Enforcement: sandbox.EnforcementProxy, Connections: []sandbox.Connection{
		{Host: "evil.test", Port: 443, Method: "CONNECT"},
		{Host: "evil.test", Port: 443, Method: "CONNECT", Count: 44},
		{Host: "", Method: "", Rule: "proxy limit", Count: 7},
		{Host: "pypi.org", Port: 443, Method: "CONNECT", Allowed: true, BytesOut: 10, BytesIn: 20},
		{Host: "found.test", Method: "static"},
	}}
	s := networkSummary(n)
	if s.Attempts != 53 || s.Allowed != 1 || s.Denied != 52 || s.BytesOut != 10 || s.BytesIn != 20 {
		t.Errorf("summary %+v; want 53 attempts, 1 allowed, 52 denied, 10 bytes out, 20 in", *s)
	}
	if len(s.HostsDenied) != 1 || s.HostsDenied[0] != "evil.test" {
		t.Errorf("hosts denied %q; want [evil.test]", s.HostsDenied)
	}
}

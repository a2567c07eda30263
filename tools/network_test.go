package tools_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// TestNetworkLedgerByBackend: what the Airlock layer puts in a result's
// network ledger, per backend and policy: the proxy's own ledger passes
// through; Modal gets the static findings and says whether part of the
// policy was only advisory. (When the pre-check refuses: precheck_test.go.)
func TestNetworkLedgerByBackend(t *testing.T) {
	pypi := []policy.NetworkRule{{Host: "pypi.org", Ports: []int{443}}}
	withNet := func(allow []policy.NetworkRule, mode string) *policy.Policy {
		p := policy.Default()
		p.Network.AllowEgress, p.Network.Allow, p.Network.OnUnenforceable = true, allow, mode
		return p
	}
	proxyLedger := &sandbox.Network{Enforcement: sandbox.EnforcementProxy, Connections: []sandbox.Connection{
		{Host: "pypi.org", Port: 443, Method: "CONNECT", Address: "151.101.0.223:443", Allowed: true, Rule: "network.allow[0]", BytesOut: 1, BytesIn: 2},
		{Host: "evil.test", Port: 443, Method: "CONNECT", Rule: "network.allow (no rule matches)", Reason: "Connection to evil.test:443 refused: evil.test is not in the operator's allow list (network.allow)."},
	}}
	code := "import requests\nrequests.get('https://pypi.org/simple/')"
	tests := []struct {
		name        string
		p           *policy.Policy
		backend     string
		ledger      *sandbox.Network // what the backend returns
		code        string
		enforcement string
		statics     int    // static entries expected
		text        string // substring of the text content
	}{
		{name: "local: the proxy ledger passes through, refusals explained in the text", p: withNet(pypi, policy.Refuse), backend: local.Name, ledger: proxyLedger, code: code,
			enforcement: sandbox.EnforcementProxy, text: "[network] Connection to evil.test:443 refused: evil.test is not in the operator's allow list"},
		{name: "modal enforced natively: static findings listed", p: withNet([]policy.NetworkRule{{CIDR: "203.0.113.0/24"}}, policy.Refuse), backend: modal.Name, code: "import socket\nsocket.create_connection(('203.0.113.9', 22))",
			enforcement: sandbox.EnforcementModal, statics: 1},
		{name: "modal advisory says so in every result", p: withNet(pypi, policy.Advisory), backend: modal.Name, code: code,
			enforcement: sandbox.EnforcementAdvisory, statics: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := &sandboxtest.Backend{BackendName: tt.backend, Result: sandbox.Result{Status: sandbox.StatusOK, Backend: tt.backend, Network: tt.ledger}}
			tool, err := tools.ExecutePython(tt.p, capable(fb), tools.Sessions{}, nil, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			res := tool.Handler(context.Background(), call(`{"code":`+strconv.Quote(tt.code)+`}`))
			r := res.StructuredContent.(tools.ExecuteResult).Result
			if r.Network == nil || r.Network.Enforcement != tt.enforcement {
				t.Fatalf("ledger %+v, want enforcement %s", r.Network, tt.enforcement)
			}
			statics := 0
			for _, c := range r.Network.Connections {
				if c.Method == "static" {
					statics++
				}
			}
			if statics != tt.statics {
				t.Errorf("%d static entries, want %d: %+v", statics, tt.statics, r.Network.Connections)
			}
			if tt.backend == modal.Name && !strings.Contains(r.Network.Note, "Modal") {
				t.Errorf("note %q", r.Network.Note)
			}
			if tt.enforcement == sandbox.EnforcementAdvisory && !strings.Contains(r.Network.Note, "advisory") {
				t.Errorf("advisory note %q", r.Network.Note)
			}
			if !strings.Contains(text(t, res), tt.text) {
				t.Errorf("text %q lacks %q", text(t, res), tt.text)
			}
		})
	}
}

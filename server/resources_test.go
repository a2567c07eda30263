package server

import (
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/local"
	"github.com/airlock-mcp/airlock-mcp/sandbox/modal"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// TestPolicyTextInTheBackendsTerms: airlock://policy tells the model the
// limits as the backend in use applies them: the Airlock proxy's per-call
// limits only where the proxy carries the connections, process limits only
// where processes are capped.
func TestPolicyTextInTheBackendsTerms(t *testing.T) {
	p := policy.Default()
	p.Network.AllowEgress = true
	p.Network.Allow = []policy.NetworkRule{{Host: "pypi.org", Ports: []int{443}}}
	tests := []struct {
		name          string
		caps          sandbox.Capabilities
		want, without []string
	}{
		{"local", local.Capabilities{}, []string{"64 processes", "at most 64 connections and 256 MiB through the Airlock proxy"}, []string{"Modal"}},
		{"modal", modal.Capabilities{}, []string{"(Modal's hard limit)", "processes and scratch space not capped", "no Airlock proxy on this backend"},
			[]string{"64 processes", "through the Airlock proxy\n", "python: ", "warm sandbox"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := policyText(p, &sandboxtest.Backend{BackendName: tt.name, Caps: tt.caps})
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("airlock://policy =\n%s\nlacks %q", got, want)
				}
			}
			for _, not := range tt.without {
				if strings.Contains(got, not) {
					t.Errorf("airlock://policy =\n%s\nstates %q", got, not)
				}
			}
		})
	}
}

package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/netrules"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// gappy is a backend that cannot enforce any host rule of a policy.
type gappy struct{ sandbox.Undeclared }

func (gappy) Title() string { return "Gappy" }

func (gappy) Gaps(r netrules.Rules) []netrules.Gap {
	var out []netrules.Gap
	for i, a := range r.Allow {
		if a.Host != "" {
			out = append(out, netrules.NewGap(netrules.AllowList, i, a, "Gappy has no names."))
		}
	}
	return out
}

// TestCheckBackend: every gap of the backend's capabilities is a problem
// naming the rule and the backend, unless the policy runs its gaps
// advisory; a backend without gaps accepts every policy.
func TestCheckBackend(t *testing.T) {
	egress := func(rules ...NetworkRule) func(p *Policy) {
		return func(p *Policy) {
			p.Network.AllowEgress = true
			p.Network.Allow = rules
		}
	}
	advisory := func(p *Policy) { p.Network.OnUnenforceable = Advisory }
	tests := []struct {
		name string
		caps sandbox.Capabilities
		p    *Policy
		want string // exact error text; "" means accepted
	}{
		{"no gaps in the default policy", gappy{}, Default(), ""},
		{"no gaps in cidr rules", gappy{}, with(egress(NetworkRule{CIDR: "203.0.113.0/24"})), ""},
		{"a backend without gaps accepts every rule", sandbox.Undeclared{}, with(egress(NetworkRule{Host: "pypi.org"})), ""},
		{"each gap is a problem naming the rule and the backend", gappy{}, with(egress(NetworkRule{CIDR: "203.0.113.0/24"}, NetworkRule{Host: "pypi.org", Ports: []int{443}}, NetworkRule{Host: "*.example.com"})),
			"/network/allow/1: rule network.allow[1] (host pypi.org, port 443) cannot be enforced on Gappy: Gappy has no names. Change the rule, or set network.on_unenforceable: advisory to run with it enforced only by the Airlock layer's static check of the code.\n" +
				"/network/allow/2: rule network.allow[2] (host *.example.com, every port) cannot be enforced on Gappy: Gappy has no names. Change the rule, or set network.on_unenforceable: advisory to run with it enforced only by the Airlock layer's static check of the code."},
		{"advisory accepts the gaps", gappy{}, with(egress(NetworkRule{Host: "pypi.org"}), advisory), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.CheckBackend(tt.caps)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckBackend = %v, want nil", err)
				}
				return
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("CheckBackend = %v, want a *LoadError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("CheckBackend =\n%s\nwant\n%s", err, tt.want)
			}
			if len(le.Problems) != strings.Count(tt.want, "\n")+1 {
				t.Errorf("%d problems, want one per line", len(le.Problems))
			}
		})
	}
}

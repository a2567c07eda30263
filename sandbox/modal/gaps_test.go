package modal

import (
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// TestGaps: what Modal cannot enforce of the network rules, one gap per
// reason, in the order of the rules, naming each rule and why.
func TestGaps(t *testing.T) {
	type rule = netrules.Rule
	egress := func(allow []rule, deny ...rule) netrules.Rules {
		return netrules.Rules{AllowEgress: true, Allow: allow, Deny: deny}
	}
	tests := []struct {
		name  string
		rules netrules.Rules
		want  []string // "pointer|rule|start of why"
	}{
		{"no egress", netrules.Rules{Allow: []rule{{Host: "pypi.org"}}}, nil},
		{"open egress", egress(nil), nil},
		{"whole CIDRs and deny CIDRs", egress([]rule{{CIDR: "203.0.113.0/24"}, {CIDR: "2001:db8::/32"}}, rule{CIDR: "203.0.113.128/25"}), nil},
		{"a TLS host: built-in denies behind the name", egress([]rule{{Host: "pypi.org", Ports: []int{443}}}), []string{
			"/network/allow/0|network.allow[0] (host pypi.org, port 443)|Modal matches this name on the TLS SNI only, not on the addresses it resolves to, so a built-in denied address (loopback, cloud metadata, private ranges) behind it would not be blocked.",
		}},
		{"each rule it cannot enforce", egress([]rule{
			{CIDR: "203.0.113.0/24"},
			{Host: "*.example.org", Ports: []int{80, 443}},
			{CIDR: "10.0.0.0/8", Ports: []int{5432}},
		}, rule{Host: "db.example.org"}, rule{CIDR: "198.51.100.0/24"}), []string{
			"/network/allow/1|network.allow[1] (host *.example.org, ports 80, 443)|Modal's domain allowlist admits only TLS on port 443",
			"/network/allow/1|network.allow[1] (host *.example.org, ports 80, 443)|Modal matches this name on the TLS SNI only",
			"/network/allow/2|network.allow[2] (cidr 10.0.0.0/8, port 5432)|Modal's CIDR allowlist admits every port",
			"/network/deny/0|network.deny[0] (host db.example.org, every port)|Modal has no deny rules",
			"/network/deny/1|network.deny[1] (cidr 198.51.100.0/24, every port)|Modal matches allowed hostnames on the TLS SNI only",
		}},
		{"a host deny with open egress", egress(nil, rule{Host: "evil.test"}), []string{
			"/network/deny/0|network.deny[0] (host evil.test, every port)|Modal has no deny rules, so this name stays reachable through what is allowed.",
		}},
		{"a host deny nothing allows is enforced", egress([]rule{{CIDR: "203.0.113.0/24"}}, rule{Host: "evil.test"}), nil},
		{"a host deny whose wildcard covers an allowed name", egress([]rule{{Host: "api.example.com", Ports: []int{443}}}, rule{Host: "*.example.com"}), []string{
			"/network/allow/0|network.allow[0] (host api.example.com, port 443)|Modal matches this name",
			"/network/deny/0|network.deny[0] (host *.example.com, every port)|Modal has no deny rules",
		}},
		{"a deny cidr with ports", egress([]rule{{CIDR: "203.0.113.0/24"}}, rule{CIDR: "203.0.113.0/28", Ports: []int{22}}), []string{
			"/network/deny/0|network.deny[0] (cidr 203.0.113.0/28, port 22)|Modal's CIDR allowlist cannot leave out some ports of a block",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gaps := Capabilities{}.Gaps(tt.rules)
			if len(gaps) != len(tt.want) {
				t.Fatalf("%d gaps, want %d: %+v", len(gaps), len(tt.want), gaps)
			}
			for i, g := range gaps {
				want := strings.SplitN(tt.want[i], "|", 3)
				if g.Pointer != want[0] || g.Rule != want[1] || !strings.HasPrefix(g.Why, want[2]) {
					t.Errorf("gap %d = %+v, want %q", i, g, tt.want[i])
				}
			}
		})
	}
}

package modal

import (
	"net/netip"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// TestFilterBlocks: what Modal itself blocks under network rules, as
// NetworkFor configures it (no network, the domain allowlist of TLS on
// 443 by SNI, the CIDR allowlist on every port).
func TestFilterBlocks(t *testing.T) {
	metadata := netip.MustParseAddr("169.254.169.254")
	hostsAndDeny := netrules.Rules{AllowEgress: true,
		Allow: []netrules.Rule{{Host: "*.example.com"}, {Host: "pypi.org", Ports: []int{80}}},
		Deny:  []netrules.Rule{{Host: "admin.example.com"}}}
	cidrs := netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{CIDR: "203.0.113.0/24", Ports: []int{443}}}}
	open := netrules.Rules{AllowEgress: true, Deny: []netrules.Rule{{Host: "evil.test"}, {CIDR: "198.51.100.0/24"}}}
	tests := []struct {
		name    string
		n       netrules.Rules
		host    string
		addr    netip.Addr
		port    int
		blocked bool
	}{
		{"no egress blocks everything", netrules.Rules{}, "pypi.org", netip.Addr{}, 443, true},
		{"no egress blocks addresses", netrules.Rules{}, "203.0.113.1", netip.Addr{}, 443, true},
		{"an allowed name on 443 is admitted", hostsAndDeny, "a.example.com", netip.Addr{}, 443, false},
		{"the wildcard's apex is admitted", hostsAndDeny, "example.com", netip.Addr{}, 443, false},
		{"an unknown port may be 443", hostsAndDeny, "a.example.com", netip.Addr{}, 0, false},
		{"plain HTTP to an allowed name is blocked", hostsAndDeny, "a.example.com", netip.Addr{}, 80, true},
		{"a host deny inside an allowed name is not Modal's", hostsAndDeny, "admin.example.com", netip.Addr{}, 443, false},
		{"a port-80 rule still admits TLS on 443", hostsAndDeny, "pypi.org", netip.Addr{}, 443, false},
		{"a port-80 rule's port is blocked", hostsAndDeny, "pypi.org", netip.Addr{}, 80, true},
		{"a name nothing allows is blocked", hostsAndDeny, "evil.test", netip.Addr{}, 443, true},
		{"a metadata name allowed by SNI is admitted", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{Host: "*.google.internal"}}}, "metadata.google.internal", metadata, 443, false},
		{"without a domain allowlist an IP literal needs the CIDR allowlist", hostsAndDeny, "203.0.113.1", netip.Addr{}, 443, true},
		{"a cidr rule admits every port", cidrs, "203.0.113.9", netip.Addr{}, 22, false},
		{"outside the block is blocked", cidrs, "192.0.2.1", netip.Addr{}, 443, true},
		{"a name is taken not to resolve into a cidr rule's block", cidrs, "pypi.org", netip.Addr{}, 443, true},
		{"open egress admits a public name", open, "pypi.org", netip.Addr{}, 443, false},
		{"open egress admits a denied name (no deny rules on Modal)", open, "evil.test", netip.Addr{}, 443, false},
		{"open egress blocks a deny cidr", open, "198.51.100.7", netip.Addr{}, 443, true},
		{"open egress blocks the metadata address", open, "169.254.169.254", netip.Addr{}, 80, true},
		{"open egress blocks a name known to be the metadata address", open, "metadata.google.internal", metadata, 80, true},
		{"open egress blocks an IPv4-mapped private address", open, "::ffff:10.0.0.1", netip.Addr{}, 443, true},
		{"open egress blocks an IPv4-compatible address", open, "::a00:1", netip.Addr{}, 443, true},
		{"open egress admits a public IPv6 address in brackets", open, "[2606:4700::1]", netip.Addr{}, 443, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newFilter(tt.n).blocks(tt.host, tt.addr, tt.port); got != tt.blocked {
				t.Errorf("blocks(%q, %v, %d) = %v, want %v", tt.host, tt.addr, tt.port, got, tt.blocked)
			}
		})
	}
}

// TestFilterAgreesWithGaps: under rules without gaps (the only ones Modal
// runs with under on_unenforceable: refuse), Modal blocks every destination
// the rules deny; under rules with a gap, some denied destination gets
// through Modal. The pre-check refuses only the latter.
func TestFilterAgreesWithGaps(t *testing.T) {
	type dest struct {
		host string
		addr netip.Addr
		port int
	}
	metadata := netip.MustParseAddr("169.254.169.254")
	dests := []dest{
		{"pypi.org", netip.Addr{}, 443}, {"pypi.org", netip.Addr{}, 80}, {"pypi.org", netip.Addr{}, 0},
		{"evil.test", netip.Addr{}, 443}, {"admin.example.com", netip.Addr{}, 443}, {"a.example.com", netip.Addr{}, 0},
		{"metadata.google.internal", metadata, 80}, {"metadata.google.internal", metadata, 443},
		{"203.0.113.9", netip.Addr{}, 22}, {"203.0.113.9", netip.Addr{}, 443}, {"198.51.100.7", netip.Addr{}, 443},
		{"169.254.169.254", netip.Addr{}, 80}, {"10.0.0.1", netip.Addr{}, 5432}, {"::a00:1", netip.Addr{}, 443},
		{"2606:4700::1", netip.Addr{}, 443}, {"8.8.8.8", netip.Addr{}, 53},
	}
	tests := []struct {
		name string
		n    netrules.Rules
	}{
		{"no egress", netrules.Rules{}},
		{"open egress", netrules.Rules{AllowEgress: true}},
		{"open egress with deny cidrs", netrules.Rules{AllowEgress: true, Deny: []netrules.Rule{{CIDR: "198.51.100.0/24"}}}},
		{"cidr rules", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{CIDR: "203.0.113.0/24"}, {CIDR: "10.0.0.0/8"}}, Deny: []netrules.Rule{{Host: "evil.test"}}}},
		{"gap: host deny under open egress", netrules.Rules{AllowEgress: true, Deny: []netrules.Rule{{Host: "evil.test"}}}},
		{"gap: host deny inside an allowed wildcard", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{Host: "*.example.com", Ports: []int{443}}}, Deny: []netrules.Rule{{Host: "admin.example.com"}}}},
		{"gap: ports on a cidr rule", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{CIDR: "203.0.113.0/24", Ports: []int{443}}}}},
		{"gap: a host rule's port", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{Host: "pypi.org", Ports: []int{80}}}}},
		{"gap: a name behind SNI", netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{Host: "*.google.internal", Ports: []int{443}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, m := tt.n.Egress(), newFilter(tt.n)
			var through []dest
			for _, d := range dests {
				v := e.CheckHost(d.host, d.port)
				if v.Allowed && d.addr.IsValid() {
					v = e.CheckAddr(d.host, d.addr, d.port)
				}
				if !v.Allowed && !m.blocks(d.host, d.addr, d.port) {
					through = append(through, d)
				}
			}
			if gaps := (Capabilities{}).Gaps(tt.n); (len(gaps) > 0) != (len(through) > 0) {
				t.Errorf("%d gaps, but denied destinations Modal admits: %v", len(gaps), through)
			}
		})
	}
}

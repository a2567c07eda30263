package modal

import (
	"net/netip"
	"reflect"
	"testing"

	sdk "github.com/modal-labs/modal-client/go"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

func TestNetworkFor(t *testing.T) {
	tls := func(host string) netrules.Rule { return netrules.Rule{Host: host, Ports: []int{443}} }
	cidr := func(c string) netrules.Rule { return netrules.Rule{CIDR: c} }
	tests := []struct {
		name string
		in   netrules.Rules
		want Network
	}{
		{name: "no egress blocks", in: netrules.Rules{}, want: Network{Block: true}},
		{name: "no egress with rules still blocks", in: netrules.Rules{Allow: []netrules.Rule{tls("pypi.org")}}, want: Network{Block: true}},
		{name: "hosts only: domain allowlist, no CIDR list",
			in:   netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{tls("pypi.org"), tls("files.pythonhosted.org")}},
			want: Network{Domains: []string{"pypi.org", "files.pythonhosted.org"}}},
		{name: "wildcard is listed with its apex",
			in:   netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{tls("*.example.com"), tls("example.com")}},
			want: Network{Domains: []string{"example.com", "*.example.com"}}},
		{name: "advisory host on every port still goes to the domain allowlist",
			in:   netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{Host: "pypi.org"}}},
			want: Network{Domains: []string{"pypi.org"}}},
		{name: "CIDRs only: CIDR allowlist, merged, no domain list",
			in:   netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{cidr("203.0.113.0/24"), cidr("2001:db8::/32"), cidr("203.0.113.0/25")}},
			want: Network{CIDRs: []string{"203.0.113.0/24", "2001:db8::/32"}}},
		{name: "deny cidr carved out of an allowed block",
			in:   netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{cidr("203.0.113.0/24")}, Deny: []netrules.Rule{cidr("203.0.113.0/25")}},
			want: Network{CIDRs: []string{"203.0.113.128/25"}}},
		{name: "built-in denies carved out of a wide block",
			in:   netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{cidr("100.0.0.0/8"), tls("pypi.org")}},
			want: Network{Domains: []string{"pypi.org"}, CIDRs: []string{"100.0.0.0/10", "100.128.0.0/9"}}},
		{name: "a block inside a built-in deny lifts it",
			in:   netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{cidr("10.1.0.0/16")}},
			want: Network{CIDRs: []string{"10.1.0.0/16"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NetworkFor(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NetworkFor = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestNetworkForOpenEgress: open egress is a CIDR allowlist of every
// address but the built-in denies, so cloud metadata and private ranges
// stay out of reach on Modal too.
func TestNetworkForOpenEgress(t *testing.T) {
	n := NetworkFor(netrules.Rules{AllowEgress: true})
	if n.Block || n.Domains != nil || len(n.CIDRs) == 0 {
		t.Fatalf("NetworkFor(open) = %+v", n)
	}
	has := func(a string) bool {
		addr := netip.MustParseAddr(a)
		for _, c := range n.CIDRs {
			if netip.MustParsePrefix(c).Contains(addr) {
				return true
			}
		}
		return false
	}
	for _, a := range []string{"8.8.8.8", "151.101.0.223", "2606:4700::1"} {
		if !has(a) {
			t.Errorf("%s not allowed", a)
		}
	}
	for _, a := range []string{"169.254.169.254", "10.0.0.1", "127.0.0.1", "192.168.1.1", "fd00:ec2::254", "::1"} {
		if has(a) {
			t.Errorf("%s allowed", a)
		}
	}

	// A rule lifting link-local keeps the metadata addresses inside it out.
	n = NetworkFor(netrules.Rules{AllowEgress: true, Allow: []netrules.Rule{{CIDR: "169.254.0.0/16"}}})
	if !has("169.254.1.1") || has("169.254.169.254") || has("169.254.170.2") || has("8.8.8.8") {
		t.Errorf("NetworkFor(169.254.0.0/16) = %v", n.CIDRs)
	}
}

func TestNetworkApply(t *testing.T) {
	tests := []struct {
		name           string
		n              Network
		block          bool
		domains, cidrs *sdk.Allowlist
		describedAs    string
	}{
		{name: "block", n: Network{Block: true}, block: true, describedAs: "blocked (BlockNetwork)"},
		{name: "open", n: Network{}, describedAs: "open (no allowlist)"},
		{name: "domains", n: Network{Domains: []string{"pypi.org"}}, domains: &sdk.Allowlist{Entries: []string{"pypi.org"}},
			describedAs: "domain allowlist, TLS on 443 only: pypi.org"},
		{name: "cidrs", n: Network{CIDRs: []string{"10.0.0.0/8"}}, cidrs: &sdk.Allowlist{Entries: []string{"10.0.0.0/8"}},
			describedAs: "CIDR allowlist, every port: 10.0.0.0/8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p sdk.SandboxCreateParams
			tt.n.apply(&p)
			if p.BlockNetwork != tt.block || !reflect.DeepEqual(p.OutboundDomainAllowlist, tt.domains) || !reflect.DeepEqual(p.OutboundCIDRAllowlist, tt.cidrs) {
				t.Errorf("params: block %v domains %+v cidrs %+v", p.BlockNetwork, p.OutboundDomainAllowlist, p.OutboundCIDRAllowlist)
			}
			if got := tt.n.String(); got != tt.describedAs {
				t.Errorf("String() = %q, want %q", got, tt.describedAs)
			}
		})
	}
}

package modal

import (
	"reflect"
	"strings"
	"testing"

	sdk "github.com/modal-labs/modal-client/go"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

func TestNetworkFor(t *testing.T) {
	tls := func(host string) policy.NetworkRule { return policy.NetworkRule{Host: host, Ports: []int{443}} }
	cidr := func(c string) policy.NetworkRule { return policy.NetworkRule{CIDR: c} }
	tests := []struct {
		name    string
		in      policy.Network
		want    Network
		wantErr string
	}{
		{name: "no egress blocks", in: policy.Network{}, want: Network{Block: true}},
		{name: "no egress with rules still blocks", in: policy.Network{Allow: []policy.NetworkRule{tls("pypi.org")}}, want: Network{Block: true}},
		{name: "egress without rules is open", in: policy.Network{AllowEgress: true}, want: Network{}},
		{name: "hosts only: domain allowlist, no CIDR list",
			in:   policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{tls("pypi.org"), tls("files.pythonhosted.org")}},
			want: Network{Domains: []string{"pypi.org", "files.pythonhosted.org"}}},
		{name: "wildcard is listed with its apex",
			in:   policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{tls("*.example.com"), tls("example.com")}},
			want: Network{Domains: []string{"example.com", "*.example.com"}}},
		{name: "CIDRs only: CIDR allowlist, no domain list",
			in:   policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{cidr("203.0.113.0/24"), cidr("2001:db8::/32"), cidr("203.0.113.0/24")}},
			want: Network{CIDRs: []string{"203.0.113.0/24", "2001:db8::/32"}}},
		{name: "both",
			in:   policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{cidr("10.0.0.0/8"), tls("pypi.org")}},
			want: Network{Domains: []string{"pypi.org"}, CIDRs: []string{"10.0.0.0/8"}}},
		{name: "host on every port is refused",
			in:      policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{{Host: "pypi.org"}}},
			wantErr: "network rule (host pypi.org, every port) cannot be enforced on Modal"},
		{name: "CIDR with ports is refused",
			in:      policy.Network{AllowEgress: true, Allow: []policy.NetworkRule{{CIDR: "10.0.0.0/8", Ports: []int{22}}}},
			wantErr: "network rule (cidr 10.0.0.0/8, port 22) cannot be enforced on Modal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NetworkFor(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NetworkFor = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NetworkFor = %+v, want %+v", got, tt.want)
			}
		})
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

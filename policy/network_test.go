package policy

import (
	"encoding/json"
	"testing"
)

func TestNetworkSummary(t *testing.T) {
	tests := []struct {
		name string
		n    Network
		want string
	}{
		{"no egress", Network{}, "none"},
		{"rules without egress still mean none", Network{Allow: []NetworkRule{{Host: "pypi.org"}}}, "none"},
		{"open", Network{AllowEgress: true}, "outbound connections allowed; loopback, private, link-local and cloud metadata addresses are always blocked"},
		{"open with denies", Network{AllowEgress: true, Deny: []NetworkRule{{Host: "*.internal.example.com"}, {CIDR: "198.51.100.0/24", Ports: []int{22}}}},
			"outbound connections allowed; except *.internal.example.com, 198.51.100.0/24 (port 22); loopback, private, link-local and cloud metadata addresses are always blocked"},
		{"hosts and CIDRs", Network{AllowEgress: true, Allow: []NetworkRule{
			{CIDR: "203.0.113.0/24"},
			{Host: "pypi.org", Ports: []int{443}},
			{Host: "*.pythonhosted.org", Ports: []int{443}},
			{Host: "example.com", Ports: []int{80, 8080}},
			{CIDR: "10.0.0.0/8", Ports: []int{5432}},
		}}, "only to pypi.org (HTTPS, port 443); pythonhosted.org and its subdomains (HTTPS, port 443); example.com (ports 80, 8080); 203.0.113.0/24 (every port); 10.0.0.0/8 (port 5432); everything else is blocked; loopback, private, link-local and cloud metadata addresses are blocked unless a cidr above lies inside them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.n.Summary(); got != tt.want {
				t.Errorf("Summary() =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestNetworkJSONIsCanonical: a policy built in Go with no rules encodes,
// and so hashes, like the same policy read from a file.
func TestNetworkJSONIsCanonical(t *testing.T) {
	built := Default()
	built.Network.Allow, built.Network.Deny = nil, nil
	b, err := json.Marshal(built.Network)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"allow_egress":false,"allow":[],"deny":[],"on_unenforceable":"refuse","max_connections":64,"max_transfer_mb":256}` {
		t.Errorf("Network JSON = %s", b)
	}
	if built.SHA256() != Default().SHA256() {
		t.Error("a nil and an empty allow list hash differently")
	}
	if err := built.Validate(); err != nil {
		t.Errorf("Validate() with a nil allow list = %v", err)
	}
}

package netrules

import (
	"net/netip"
	"testing"
)

func TestAllowedPrefixes(t *testing.T) {
	tests := []struct {
		name     string
		n        Rules
		in, out  []string
		wantNone bool
	}{
		{name: "egress off", n: Rules{}, wantNone: true},
		{name: "hosts only", n: Rules{AllowEgress: true, Allow: []Rule{{Host: "pypi.org"}}}, wantNone: true},
		{name: "open: every public address, no built-in denies", n: Rules{AllowEgress: true, Deny: []Rule{{CIDR: "198.51.100.0/24"}}},
			in: []string{"8.8.8.8", "151.101.0.223", "2606:4700::1", "203.0.113.9"},
			out: []string{"127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.1", "::1", "fd00:ec2::254", "fe80::1", "100.64.1.1", "198.51.100.7", "::ffff:10.0.0.1",
				"::", "::10.0.0.1", "::8.8.8.8", "::ffff:0:a00:1", "64:ff9b::a00:1", "64:ff9b:1::1"}},
		{name: "cidr rules minus denies, lifted blocks kept", n: Rules{AllowEgress: true,
			Allow: []Rule{{CIDR: "203.0.113.0/24"}, {CIDR: "10.1.2.0/24"}, {CIDR: "0.0.0.0/0", Ports: []int{9}}},
			Deny:  []Rule{{CIDR: "203.0.113.128/25"}}},
			in:  []string{"203.0.113.1", "10.1.2.200", "8.8.8.8"},
			out: []string{"203.0.113.200", "10.1.3.1", "127.0.0.1", "169.254.169.254"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := tt.n.AllowedPrefixes()
			if tt.wantNone != (len(ps) == 0) {
				t.Fatalf("AllowedPrefixes() = %v, want none: %v", ps, tt.wantNone)
			}
			contains := func(a string) bool {
				addr := netip.MustParseAddr(a)
				for _, p := range ps {
					if p.Contains(addr) {
						return true
					}
				}
				return false
			}
			for _, a := range tt.in {
				if !contains(a) {
					t.Errorf("%s not allowed", a)
				}
			}
			for _, a := range tt.out {
				if contains(a) {
					t.Errorf("%s allowed", a)
				}
			}
		})
	}
}

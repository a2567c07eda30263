package netrules

import "testing"

func TestRule(t *testing.T) {
	tests := []struct {
		r        Rule
		str      string
		wildcard bool
		apex     string
	}{
		{Rule{Host: "pypi.org", Ports: []int{443}}, "host pypi.org, port 443", false, "pypi.org"},
		{Rule{Host: "*.example.com"}, "host *.example.com, every port", true, "example.com"},
		{Rule{CIDR: "10.0.0.0/8", Ports: []int{22, 80}}, "cidr 10.0.0.0/8, ports 22, 80", false, ""},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if tt.r.IsWildcard() != tt.wildcard || tt.r.Apex() != tt.apex {
			t.Errorf("%s: IsWildcard %v Apex %q, want %v %q", tt.str, tt.r.IsWildcard(), tt.r.Apex(), tt.wildcard, tt.apex)
		}
	}
}

// TestCoversHost: an exact rule covers its name only; a wildcard covers
// its apex and every subdomain, not a name that merely ends the same; a
// cidr rule covers no name.
func TestCoversHost(t *testing.T) {
	tests := []struct {
		r    Rule
		host string
		want bool
	}{
		{Rule{Host: "pypi.org"}, "pypi.org", true},
		{Rule{Host: "pypi.org"}, "www.pypi.org", false},
		{Rule{Host: "*.example.com"}, "example.com", true},
		{Rule{Host: "*.example.com"}, "a.b.example.com", true},
		{Rule{Host: "*.example.com"}, "badexample.com", false},
		{Rule{CIDR: "10.0.0.0/8"}, "10.0.0.1", false},
	}
	for _, tt := range tests {
		if got := tt.r.CoversHost(tt.host); got != tt.want {
			t.Errorf("%s: CoversHost(%q) = %v, want %v", tt.r, tt.host, got, tt.want)
		}
	}
}

// TestNamesAndPointers: a rule is named, in verdicts and gaps, by its
// place in the policy file.
func TestNamesAndPointers(t *testing.T) {
	g := NewGap(DenyList, 2, Rule{CIDR: "198.51.100.0/24", Ports: []int{22}}, "why.")
	want := Gap{Pointer: "/network/deny/2", Rule: "network.deny[2] (cidr 198.51.100.0/24, port 22)", Why: "why."}
	if g != want {
		t.Errorf("NewGap = %+v, want %+v", g, want)
	}
}

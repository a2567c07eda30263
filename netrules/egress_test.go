package netrules

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// testNetwork is a set of rules of every kind.
func testNetwork() Rules {
	return Rules{
		AllowEgress: true,
		Allow: []Rule{
			{Host: "pypi.org", Ports: []int{443}},               // 0
			{Host: "*.example.com"},                             // 1
			{Host: "api.test", Ports: []int{80, 8443}},          // 2
			{CIDR: "203.0.113.0/24"},                            // 3
			{CIDR: "10.1.2.0/24", Ports: []int{5432}},           // 4: lifts part of 10.0.0.0/8
			{CIDR: "2001:db8::/32"},                             // 5
			{CIDR: "0.0.0.0/0", Ports: []int{9999}},             // 6: too wide to lift any built-in deny
			{Host: "*.internal.example.com", Ports: []int{443}}, // 7: inside the deny below, which wins
		},
		Deny: []Rule{
			{Host: "*.internal.example.com"},            // 0
			{CIDR: "203.0.113.128/25"},                  // 1
			{Host: "old.example.com", Ports: []int{80}}, // 2
		},
	}
}

func TestCheckHost(t *testing.T) {
	e := testNetwork().Egress()
	tests := []struct {
		host    string
		port    int
		allowed bool
		rule    string // substring of Verdict.Rule
		reason  string // substring of Verdict.Reason
	}{
		{"pypi.org", 443, true, "network.allow[0]", "pypi.org:443 is allowed"},
		{"PyPI.org.", 443, true, "network.allow[0]", ""},
		{"pypi.org", 80, false, "network.allow[0]", "allowed only on port 443"},
		{"files.pypi.org", 443, false, "no rule matches", "not in the operator's allow list"},
		{"example.com", 22, true, "network.allow[1]", ""}, // the wildcard covers its apex
		{"a.b.example.com", 443, true, "network.allow[1]", ""},
		{"badexample.com", 443, false, "no rule matches", ""}, // a suffix, not a subdomain
		{"example.com.evil.test", 443, false, "no rule matches", ""},
		{"db.internal.example.com", 443, false, "network.deny[0]", "refused by the operator's policy rule network.deny[0]"},
		{"internal.example.com", 443, false, "network.deny[0]", ""}, // deny wildcard covers its apex too
		{"old.example.com", 80, false, "network.deny[2]", ""},
		{"old.example.com", 443, true, "network.allow[1]", ""}, // the deny holds only on port 80
		{"api.test", 8443, true, "network.allow[2]", ""},
		{"api.test", 443, false, "network.allow[2]", "allowed only on ports 80, 8443"},
		{"203.0.113.5", 22, true, "network.allow[3]", ""},                        // IP literal inside a cidr rule
		{"203.0.113.200", 22, false, "network.deny[1]", ""},                      // deny cidr over allow cidr
		{"198.51.100.7", 443, false, "no cidr rule matches", "need a cidr rule"}, // IP literal, no rule
		{"[2001:db8::1]", 443, true, "network.allow[5]", ""},
		{"169.254.169.254", 80, false, "cloud metadata", "always blocks"},
		{"not a host", 80, false, "hostname syntax", "not a valid hostname"},
		// Port 0: a name seen in code, port unknown.
		{"pypi.org", 0, true, "network.allow[0]", ""},
		{"old.example.com", 0, true, "network.allow[1]", ""}, // the deny covers only port 80
		{"x.internal.example.com", 0, false, "network.deny[0]", ""},
		{"evil.test", 0, false, "no rule matches", "evil.test is not in"},
	}
	for _, tt := range tests {
		t.Run(tt.host+"_"+strconv.Itoa(tt.port), func(t *testing.T) {
			v := e.CheckHost(tt.host, tt.port)
			if v.Allowed != tt.allowed || !strings.Contains(v.Rule, tt.rule) || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("CheckHost(%q, %d) = %+v, want allowed %v, rule ~%q, reason ~%q", tt.host, tt.port, v, tt.allowed, tt.rule, tt.reason)
			}
		})
	}
}

func TestCheckAddr(t *testing.T) {
	e := testNetwork().Egress()
	tests := []struct {
		host    string // "" for an IP literal
		addr    string
		port    int
		allowed bool
		rule    string
	}{
		// Resolved addresses of an allowed name: only denies apply.
		{"pypi.org", "151.101.0.223", 443, true, "resolved address checked"},
		{"pypi.org", "2a04:4e42::223", 443, true, "resolved address checked"},
		{"pypi.org", "169.254.169.254", 443, false, "built-in deny (cloud metadata 169.254.169.254/32)"},
		{"pypi.org", "::ffff:169.254.169.254", 443, false, "cloud metadata"}, // IPv4-mapped
		{"pypi.org", "fd00:ec2::254", 443, false, "cloud metadata"},
		{"pypi.org", "169.254.1.1", 443, false, "link-local"},
		{"pypi.org", "fe80::1", 443, false, "link-local"},
		{"pypi.org", "127.0.0.1", 443, false, "loopback"},
		{"pypi.org", "::1", 443, false, "loopback"},
		{"pypi.org", "0.0.0.0", 443, false, "this-network"},
		{"pypi.org", "10.0.0.7", 443, false, "private (RFC 1918)"},
		{"pypi.org", "172.20.1.1", 443, false, "private (RFC 1918)"},
		{"pypi.org", "192.168.1.1", 443, false, "private (RFC 1918)"},
		{"pypi.org", "fd12:3456::1", 443, false, "unique local"},
		{"pypi.org", "100.64.0.1", 443, false, "shared"},
		{"pypi.org", "64:ff9b::a00:7", 443, false, "NAT64"},
		{"pypi.org", "64:ff9b:1::a00:7", 443, false, "local-use NAT64 64:ff9b:1::/48"},
		// IPv6 forms embedding an IPv4 address: IPv4-compatible (::/96)
		// and IPv4-translated (::ffff:0:0:0/96) are not unmapped, so they
		// need ranges of their own.
		{"pypi.org", "::10.0.0.1", 443, false, "IPv4-compatible ::/96"},
		{"pypi.org", "::169.254.169.254", 443, false, "IPv4-compatible ::/96"},
		{"pypi.org", "::8.8.8.8", 443, false, "IPv4-compatible ::/96"},
		{"pypi.org", "::ffff:0:a00:1", 443, false, "IPv4-translated ::ffff:0:0:0/96"},
		{"pypi.org", "::ffff:0:808:808", 443, false, "IPv4-translated ::ffff:0:0:0/96"},
		{"pypi.org", "::", 443, false, "unspecified ::/128"},
		{"pypi.org", "203.0.113.130", 443, false, "network.deny[1]"},
		// A cidr rule inside a built-in range lifts it, for its ports only.
		{"db.example.com", "10.1.2.3", 5432, true, "network.allow[4]"},
		{"db.example.com", "10.1.2.3", 22, false, "private (RFC 1918)"},
		{"", "10.1.2.3", 5432, true, "network.allow[4]"},
		// 0.0.0.0/0 is not inside any built-in range: it lifts nothing.
		{"", "127.0.0.1", 9999, false, "loopback"},
		{"", "198.51.100.1", 9999, true, "network.allow[6]"},
		// IP literals need a cidr rule.
		{"", "198.51.100.1", 443, false, "no cidr rule matches"},
		{"", "203.0.113.1", 1, true, "network.allow[3]"},
	}
	for _, tt := range tests {
		t.Run(tt.host+"_"+tt.addr, func(t *testing.T) {
			v := e.CheckAddr(tt.host, netip.MustParseAddr(tt.addr), tt.port)
			if v.Allowed != tt.allowed || !strings.Contains(v.Rule, tt.rule) || v.Reason == "" {
				t.Errorf("CheckAddr(%q, %s, %d) = %+v, want allowed %v, rule ~%q", tt.host, tt.addr, tt.port, v, tt.allowed, tt.rule)
			}
		})
	}
}

func TestEgressModes(t *testing.T) {
	off := Rules{Allow: []Rule{{Host: "pypi.org"}}}.Egress()
	open := Rules{AllowEgress: true, Deny: []Rule{{Host: "evil.test"}}}.Egress()
	tests := []struct {
		name    string
		e       *Egress
		check   func(*Egress) Verdict
		allowed bool
		rule    string
	}{
		{"off refuses an allow-listed name", off, func(e *Egress) Verdict { return e.CheckHost("pypi.org", 443) }, false, "network.allow_egress: false"},
		{"off refuses an address", off, func(e *Egress) Verdict { return e.CheckAddr("", netip.MustParseAddr("203.0.113.1"), 443) }, false, "network.allow_egress: false"},
		{"open allows any name", open, func(e *Egress) Verdict { return e.CheckHost("anything.example", 443) }, true, "no allow list"},
		{"open allows a public IP literal", open, func(e *Egress) Verdict { return e.CheckHost("198.51.100.1", 22) }, true, "no allow list"},
		{"open still denies metadata", open, func(e *Egress) Verdict { return e.CheckHost("169.254.169.254", 80) }, false, "cloud metadata"},
		{"open still denies private names' addresses", open, func(e *Egress) Verdict { return e.CheckAddr("x.example", netip.MustParseAddr("192.168.0.1"), 80) }, false, "private"},
		{"open honours deny rules", open, func(e *Egress) Verdict { return e.CheckHost("evil.test", 443) }, false, "network.deny[0]"},
		{"a malformed deny rule fails closed", Rules{AllowEgress: true, Deny: []Rule{{Host: "*.test"}}}.Egress(),
			func(e *Egress) Verdict { return e.CheckHost("anything.example", 443) }, false, "malformed policy"},
		{"a malformed rule fails closed for addresses too", Rules{AllowEgress: true, Allow: []Rule{{CIDR: "10.0.0.1/8"}}}.Egress(),
			func(e *Egress) Verdict { return e.CheckAddr("", netip.MustParseAddr("10.0.0.1"), 443) }, false, "malformed policy"},
		{"a non-ASCII name is not folded into an ASCII one", Rules{AllowEgress: true, Allow: []Rule{{Host: "kelvin.test"}}}.Egress(),
			func(e *Egress) Verdict { return e.CheckHost("\u212aelvin.test", 443) }, false, "hostname syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.check(tt.e)
			if v.Allowed != tt.allowed || !strings.Contains(v.Rule, tt.rule) {
				t.Errorf("got %+v, want allowed %v rule ~%q", v, tt.allowed, tt.rule)
			}
		})
	}
	if off.Enabled() || off.Open() || !open.Enabled() || !open.Open() {
		t.Errorf("Enabled/Open: off %v/%v, open %v/%v", off.Enabled(), off.Open(), open.Enabled(), open.Open())
	}
}

// TestBuiltinDenyReason: a refusal by a built-in deny names the address and
// its kind in a sentence that reads right ("an IPv4-compatible address").
func TestBuiltinDenyReason(t *testing.T) {
	e := Rules{AllowEgress: true}.Egress()
	tests := []struct{ addr, want string }{
		{"169.254.169.254", "169.254.169.254 is a cloud metadata address"},
		{"::a00:1", "::a00:1 is an IPv4-compatible address"},
		{"::ffff:0:a00:1", "::ffff:0:a00:1 is an IPv4-translated address"},
		{"::", ":: is an unspecified address"},
		{"192.0.0.9", "192.0.0.9 is an IETF protocol address"},
		{"fd12::1", "fd12::1 is a unique local (IPv6) address"},
	}
	for _, tt := range tests {
		if v := e.CheckAddr("", netip.MustParseAddr(tt.addr), 443); v.Allowed || !strings.Contains(v.Reason, tt.want) {
			t.Errorf("CheckAddr(%s) = %+v, want a reason containing %q", tt.addr, v, tt.want)
		}
	}
}

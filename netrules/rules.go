// Package netrules is the vocabulary of the network policy, shared by the
// policy, which loads it, and the sandbox backends, which enforce it: a
// rule (a host or a CIDR block, optionally some ports), the allow and deny
// lists, the built-in denies, the decision engine that decides every
// connection attempt (Egress), and the IP-level view of the rules a
// backend can allowlist (AllowedPrefixes). It depends on no other package
// of airlock-mcp.
//
// Rules name themselves by their place in the policy file's network
// section ("network.allow[0]", "/network/deny/1"), so that every verdict
// and every gap points the operator at the line to change.
package netrules

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Rules are the network rules sandboxed code is held to.
type Rules struct {
	// AllowEgress permits outbound connections; false gives sandboxed code
	// no network at all, whatever the lists say.
	AllowEgress bool
	// Allow, when not empty, limits egress to these destinations; empty
	// means any destination not denied.
	Allow []Rule
	// Deny lists destinations refused even when an allow rule covers them.
	// The built-in denies (BuiltinDenies) apply besides these.
	Deny []Rule
}

// The lists a rule can be in, as the policy file names them.
const (
	AllowList = "allow"
	DenyList  = "deny"
)

// Rule is one destination: a hostname or a CIDR block, optionally
// restricted to some ports.
type Rule struct {
	// Host is an exact hostname ("pypi.org") or a wildcard ("*.example.com")
	// that covers the apex (example.com) and every subdomain. Lowercase.
	Host string `json:"host,omitempty"`
	// CIDR is an IPv4 or IPv6 block in canonical form ("203.0.113.0/24").
	CIDR string `json:"cidr,omitempty"`
	// Ports restricts the rule to these destination ports; empty means
	// every port.
	Ports []int `json:"ports,omitempty"`
}

// hostRE is a lowercase DNS name of at least two labels, optionally
// prefixed by "*." (the form Modal's domain allowlist accepts, too).
var hostRE = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// IsWildcard reports whether r is a "*.suffix" host rule.
func (r Rule) IsWildcard() bool { return strings.HasPrefix(r.Host, "*.") }

// Apex is the domain a host rule names without its "*." ("example.com"
// for "*.example.com"); "" for a CIDR rule.
func (r Rule) Apex() string { return strings.TrimPrefix(r.Host, "*.") }

// String names the rule as an operator wrote it: "host pypi.org, port
// 443", "cidr 10.0.0.0/8, every port".
func (r Rule) String() string {
	what := "host " + r.Host
	if r.Host == "" {
		what = "cidr " + r.CIDR
	}
	return what + ", " + r.PortsText()
}

// PortsText is "every port", "port 443" or "ports 80, 443".
func (r Rule) PortsText() string {
	switch len(r.Ports) {
	case 0:
		return "every port"
	case 1:
		return "port " + strconv.Itoa(r.Ports[0])
	}
	ps := make([]string, len(r.Ports))
	for i, p := range r.Ports {
		ps[i] = strconv.Itoa(p)
	}
	return "ports " + strings.Join(ps, ", ")
}

// OnlyPort reports whether r allows exactly one port, port.
func (r Rule) OnlyPort(port int) bool { return len(r.Ports) == 1 && r.Ports[0] == port }

// CoversHost reports whether host rule r covers host, a normalized name
// (NormalizeHost): the name itself, or for a wildcard its apex and every
// subdomain. A CIDR rule covers no name.
func (r Rule) CoversHost(host string) bool {
	if r.Host == "" {
		return false
	}
	if !r.IsWildcard() {
		return host == r.Host
	}
	apex := r.Apex()
	return host == apex || strings.HasSuffix(host, "."+apex)
}

// Problem says what is wrong with r on its own, in one sentence saying
// what to write instead, or "" when nothing is.
func (r Rule) Problem() string {
	switch {
	case r.Host == "" && r.CIDR == "":
		return "a rule needs a host or a cidr"
	case r.Host != "" && r.CIDR != "":
		return "a rule has either a host or a cidr, not both; write two rules"
	case r.Host != "":
		if _, err := netip.ParseAddr(r.Apex()); err == nil {
			return "host " + strconv.Quote(r.Host) + " is an IP address; allow it with a cidr rule (" + r.Apex() + "/32 or /128)"
		}
		if !hostRE.MatchString(r.Host) {
			return "host " + strconv.Quote(r.Host) + " is not a hostname: use lowercase letters, digits, hyphens and dots, at least two labels, optionally starting with \"*.\" for the domain and all its subdomains"
		}
	default:
		pfx, err := netip.ParsePrefix(r.CIDR)
		if err != nil {
			return "cidr " + strconv.Quote(r.CIDR) + " is not a CIDR block such as 203.0.113.0/24 or 2001:db8::/32"
		}
		if m := pfx.Masked(); m != pfx {
			return "cidr " + strconv.Quote(r.CIDR) + " has host bits set; write " + m.String()
		}
	}
	return ""
}

// Name names the rule at index i of list (AllowList or DenyList) as
// verdicts and gaps do: "network.allow[0] (host pypi.org, port 443)".
func Name(list string, i int, r Rule) string {
	return "network." + list + "[" + strconv.Itoa(i) + "] (" + r.String() + ")"
}

// Pointer is the JSON pointer of the rule at index i of list in the policy
// document: "/network/deny/0".
func Pointer(list string, i int) string {
	return "/network/" + list + "/" + strconv.Itoa(i)
}

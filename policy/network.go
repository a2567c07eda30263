package policy

import (
	"cmp"
	"encoding/json"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file holds the network section's own rules: what a well-formed rule
// is, and how a rule and the whole section read in words.

// hostRE is a lowercase DNS name of at least two labels, optionally
// prefixed by "*." (the form Modal's domain allowlist accepts, too).
var hostRE = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// MarshalJSON encodes n with an absent Allow or Deny as [], so that a
// policy built in Go and the same policy read from a file encode, and hash,
// alike.
func (n Network) MarshalJSON() ([]byte, error) {
	type plain Network
	c := plain(n)
	if c.Allow == nil {
		c.Allow = []NetworkRule{}
	}
	if c.Deny == nil {
		c.Deny = []NetworkRule{}
	}
	return json.Marshal(c)
}

// IsWildcard reports whether r is a "*.suffix" host rule.
func (r NetworkRule) IsWildcard() bool { return strings.HasPrefix(r.Host, "*.") }

// Apex is the domain a host rule names without its "*." ("example.com"
// for "*.example.com"); "" for a CIDR rule.
func (r NetworkRule) Apex() string { return strings.TrimPrefix(r.Host, "*.") }

// String names the rule as an operator wrote it: "host pypi.org, ports
// 443", "cidr 10.0.0.0/8, every port".
func (r NetworkRule) String() string {
	what := "host " + r.Host
	if r.Host == "" {
		what = "cidr " + r.CIDR
	}
	return what + ", " + r.portsText()
}

// portsText is "every port", "port 443" or "ports 80, 443".
func (r NetworkRule) portsText() string {
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
func (r NetworkRule) OnlyPort(port int) bool { return len(r.Ports) == 1 && r.Ports[0] == port }

// problem says what is wrong with r on its own, or "" when nothing is.
func (r NetworkRule) problem() string {
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

// Summary says in a few words what sandboxed code may reach: "none",
// "outbound connections allowed ...", or the allowed destinations, then
// the deny rules and the built-in denies.
func (n Network) Summary() string {
	if !n.AllowEgress {
		return "none"
	}
	out := "outbound connections allowed"
	if len(n.Allow) > 0 {
		var hosts, cidrs []string
		for _, r := range n.Allow {
			if r.Host == "" {
				cidrs = append(cidrs, r.CIDR+" ("+r.portsText()+")")
				continue
			}
			name := r.Host
			if r.IsWildcard() {
				name = r.Apex() + " and its subdomains"
			}
			if r.OnlyPort(443) {
				hosts = append(hosts, name+" (HTTPS, port 443)")
			} else {
				hosts = append(hosts, name+" ("+r.portsText()+")")
			}
		}
		out = "only to " + strings.Join(slices.Concat(hosts, cidrs), "; ")
	}
	if len(n.Deny) > 0 {
		denied := make([]string, len(n.Deny))
		for i, r := range n.Deny {
			denied[i] = cmp.Or(r.Host, r.CIDR)
			if len(r.Ports) > 0 {
				denied[i] += " (" + r.portsText() + ")"
			}
		}
		out += "; except " + strings.Join(denied, ", ")
	}
	if len(n.Allow) > 0 {
		out += "; everything else is blocked"
	}
	if slices.ContainsFunc(n.Allow, func(r NetworkRule) bool { return r.CIDR != "" }) {
		return out + "; loopback, private, link-local and cloud metadata addresses are blocked unless a cidr above lies inside them"
	}
	return out + "; loopback, private, link-local and cloud metadata addresses are always blocked"
}

package policy

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// This file holds the network section's own view: its rules in the shared
// vocabulary, its canonical encoding, and how it reads in words.

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

// Rules are n's rules in the vocabulary the backends share.
func (n Network) Rules() netrules.Rules {
	return netrules.Rules{AllowEgress: n.AllowEgress, Allow: n.Allow, Deny: n.Deny}
}

// Egress compiles n's rules for deciding connections (netrules.Egress).
func (n Network) Egress() *netrules.Egress { return n.Rules().Egress() }

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
				cidrs = append(cidrs, r.CIDR+" ("+r.PortsText()+")")
				continue
			}
			name := r.Host
			if r.IsWildcard() {
				name = r.Apex() + " and its subdomains"
			}
			if r.OnlyPort(443) {
				hosts = append(hosts, name+" (HTTPS, port 443)")
			} else {
				hosts = append(hosts, name+" ("+r.PortsText()+")")
			}
		}
		out = "only to " + strings.Join(slices.Concat(hosts, cidrs), "; ")
	}
	if len(n.Deny) > 0 {
		denied := make([]string, len(n.Deny))
		for i, r := range n.Deny {
			denied[i] = cmp.Or(r.Host, r.CIDR)
			if len(r.Ports) > 0 {
				denied[i] += " (" + r.PortsText() + ")"
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

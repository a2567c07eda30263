package netrules

import (
	"net/netip"
	"slices"

	"go4.org/netipx"
)

// AllowedPrefixes is the set of addresses n allows connections to at the
// IP level, as CIDR blocks a backend can allowlist: with open egress, every
// address; otherwise the allow cidr rules' blocks; minus the built-in denies
// (except where an allow cidr rule inside one lifts it) and minus the deny
// cidr rules. Ports are not represented. It returns nil when egress is off
// or no address is allowed by a cidr rule.
func (n Rules) AllowedPrefixes() []netip.Prefix {
	if !n.AllowEgress {
		return nil
	}
	var b netipx.IPSetBuilder
	var lifted []netip.Prefix
	if len(n.Allow) == 0 {
		b.AddPrefix(netip.MustParsePrefix("0.0.0.0/0"))
		b.AddPrefix(netip.MustParsePrefix("::/0"))
	}
	for _, r := range n.Allow {
		if r.CIDR == "" || r.Problem() != "" {
			continue
		}
		p := netip.MustParsePrefix(r.CIDR)
		b.AddPrefix(p)
		for _, d := range builtinDenies {
			if d.lifts(p) {
				lifted = append(lifted, p)
			}
		}
	}
	for _, d := range builtinDenies {
		b.RemovePrefix(d.prefix)
	}
	for _, p := range lifted {
		b.AddPrefix(p)
	}
	// A lifted block may hold a more specific built-in deny no rule lifts
	// (169.254.0.0/16 holds the metadata address): take it out again.
	for _, d := range builtinDenies {
		if !slices.ContainsFunc(lifted, func(p netip.Prefix) bool {
			return d.lifts(p)
		}) {
			b.RemovePrefix(d.prefix)
		}
	}
	for _, r := range n.Deny {
		if r.CIDR != "" && r.Problem() == "" {
			b.RemovePrefix(netip.MustParsePrefix(r.CIDR))
		}
	}
	set, err := b.IPSet()
	if err != nil {
		return nil
	}
	return set.Prefixes()
}

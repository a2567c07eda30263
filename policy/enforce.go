package policy

import (
	"net/netip"
	"slices"
	"strconv"

	"go4.org/netipx"
)

// This file says what of the network policy a backend that filters by
// address and TLS name (Modal) can enforce itself, and what it cannot.

// Gap is a part of the network policy a backend cannot enforce itself.
type Gap struct {
	// Pointer locates the rule ("/network/deny/0").
	Pointer string
	// Rule names it ("network.deny[0] (host *.internal.example.com, every
	// port)").
	Rule string
	// Why says what would happen instead, in one sentence.
	Why string
}

// ModalGaps lists what Modal cannot enforce of n. Modal enforces natively:
// no network at all; a CIDR allowlist (every port and protocol), onto
// which AllowedPrefixes folds the deny cidr rules and built-in denies; and
// a domain allowlist that admits TLS on port 443 matched on SNI only.
// Everything else is a gap.
func (n Network) ModalGaps() []Gap {
	if !n.AllowEgress {
		return nil
	}
	var out []Gap
	gap := func(list string, i int, r NetworkRule, why string) {
		out = append(out, Gap{
			Pointer: "/network/" + list + "/" + strconv.Itoa(i),
			Rule:    "network." + list + "[" + strconv.Itoa(i) + "] (" + r.String() + ")",
			Why:     why,
		})
	}
	hosts := false
	for i, r := range n.Allow {
		switch {
		case r.Host != "":
			hosts = true
			if !r.OnlyPort(443) {
				gap("allow", i, r, "Modal's domain allowlist admits only TLS on port 443, so plain HTTP and other ports to this host are blocked rather than allowed.")
			}
			gap("allow", i, r, "Modal matches this name on the TLS SNI only, not on the addresses it resolves to, so a built-in denied address (loopback, cloud metadata, private ranges) behind it would not be blocked.")
		case len(r.Ports) > 0:
			gap("allow", i, r, "Modal's CIDR allowlist admits every port and protocol to the block, so the port restriction is not enforced.")
		}
	}
	for i, r := range n.Deny {
		switch {
		case r.Host != "" && (len(n.Allow) == 0 || n.coveredByHostRule(r)):
			gap("deny", i, r, "Modal has no deny rules, so this name stays reachable through what is allowed.")
		case r.CIDR != "" && hosts:
			gap("deny", i, r, "Modal matches allowed hostnames on the TLS SNI only, so an allowed name resolving into this block would not be blocked.")
		case r.CIDR != "" && len(r.Ports) > 0:
			gap("deny", i, r, "Modal's CIDR allowlist cannot leave out some ports of a block, so this rule is enforced on every port or not at all; it is left out of the allowlist on every port.")
		}
	}
	return out
}

// coveredByHostRule reports whether a host deny rule d overlaps an allow
// host rule: the allow rule matches d's name, or d's wildcard covers the
// allow rule's name.
func (n Network) coveredByHostRule(d NetworkRule) bool {
	dc := compiled{NetworkRule: d, list: "deny"}
	for _, a := range n.Allow {
		if a.Host == "" {
			continue
		}
		ac := compiled{NetworkRule: a, list: "allow"}
		if ac.matchesHost(d.Apex()) || dc.matchesHost(a.Apex()) {
			return true
		}
	}
	return false
}

// AllowedPrefixes is the set of addresses n allows connections to at the
// IP level, as CIDR blocks a backend can allowlist: with open egress, every
// address; otherwise the allow cidr rules' blocks; minus the built-in denies
// (except where an allow cidr rule inside one lifts it) and minus the deny
// cidr rules. Ports are not represented. It returns nil when egress is off
// or no address is allowed by a cidr rule.
func (n Network) AllowedPrefixes() []netip.Prefix {
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
		if r.CIDR == "" || r.problem() != "" {
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
		if r.CIDR != "" && r.problem() == "" {
			b.RemovePrefix(netip.MustParsePrefix(r.CIDR))
		}
	}
	set, err := b.IPSet()
	if err != nil {
		return nil
	}
	return set.Prefixes()
}

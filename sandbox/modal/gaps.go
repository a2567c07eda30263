package modal

import "github.com/airlock-mcp/airlock-mcp/netrules"

// Gaps lists what Modal cannot enforce of r. Modal enforces natively: no
// network at all; a CIDR allowlist (every port and protocol), onto which
// NetworkFor folds the deny cidr rules and built-in denies; and a domain
// allowlist that admits TLS on port 443 matched on SNI only. Everything
// else is a gap.
func (Capabilities) Gaps(r netrules.Rules) []netrules.Gap {
	if !r.AllowEgress {
		return nil
	}
	var out []netrules.Gap
	hosts := false
	for i, a := range r.Allow {
		gap := func(why string) { out = append(out, netrules.NewGap(netrules.AllowList, i, a, why)) }
		switch {
		case a.Host != "":
			hosts = true
			if !a.OnlyPort(443) {
				gap("Modal's domain allowlist admits only TLS on port 443, so plain HTTP and other ports to this host are blocked rather than allowed.")
			}
			gap("Modal matches this name on the TLS SNI only, not on the addresses it resolves to, so a built-in denied address (loopback, cloud metadata, private ranges) behind it would not be blocked.")
		case len(a.Ports) > 0:
			gap("Modal's CIDR allowlist admits every port and protocol to the block, so the port restriction is not enforced.")
		}
	}
	for i, d := range r.Deny {
		gap := func(why string) { out = append(out, netrules.NewGap(netrules.DenyList, i, d, why)) }
		switch {
		case d.Host != "" && (len(r.Allow) == 0 || coveredByHostRule(r, d)):
			gap("Modal has no deny rules, so this name stays reachable through what is allowed.")
		case d.CIDR != "" && hosts:
			gap("Modal matches allowed hostnames on the TLS SNI only, so an allowed name resolving into this block would not be blocked.")
		case d.CIDR != "" && len(d.Ports) > 0:
			gap("Modal's CIDR allowlist cannot leave out some ports of a block, so this rule is enforced on every port or not at all; it is left out of the allowlist on every port.")
		}
	}
	return out
}

// coveredByHostRule reports whether a host deny rule d overlaps an allow
// host rule of r: the allow rule covers d's name, or d's wildcard covers
// the allow rule's name.
func coveredByHostRule(r netrules.Rules, d netrules.Rule) bool {
	for _, a := range r.Allow {
		if a.Host != "" && (a.CoversHost(d.Apex()) || d.CoversHost(a.Apex())) {
			return true
		}
	}
	return false
}

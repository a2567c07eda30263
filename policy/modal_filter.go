package policy

import (
	"net/netip"

	"go4.org/netipx"
)

// ModalFilter is what Modal itself blocks under a network policy, decided
// one destination at a time: a model of the configuration the Modal
// backend gives Modal (sandbox/modal.NetworkFor): BlockNetwork without
// egress; a domain allowlist of the allow host rules (TLS on port 443,
// matched on the SNI only, whatever the address); and a CIDR allowlist of
// AllowedPrefixes (every port) when egress is open or there are cidr
// rules. Where Modal does not block a destination the policy denies, only
// the Airlock layer's static pre-check stands in for the rule. Build it
// with Network.ModalFilter; it is safe for concurrent use.
type ModalFilter struct {
	block   bool
	domains []compiled
	// cidrs is the CIDR allowlist; nil when there is none.
	cidrs *netipx.IPSet
	// open: no allow rules, so the CIDR allowlist holds every public
	// address.
	open bool
}

// ModalFilter compiles the model of what Modal blocks under n.
func (n Network) ModalFilter() *ModalFilter {
	m := &ModalFilter{block: !n.AllowEgress, open: len(n.Allow) == 0}
	if m.block {
		return m
	}
	cidrRules := m.open
	for i, r := range n.Allow {
		if r.Host == "" {
			cidrRules = true
			continue
		}
		if r.problem() == "" {
			m.domains = append(m.domains, compiled{NetworkRule: r, list: "allow", index: i})
		}
	}
	if cidrRules {
		var b netipx.IPSetBuilder
		for _, p := range n.AllowedPrefixes() {
			b.AddPrefix(p)
		}
		m.cidrs, _ = b.IPSet() // prefixes only: no error
	}
	return m
}

// Blocks reports whether Modal blocks a connection to host:port. host is
// a name or an IP literal; addr is the name's address when it is known
// without DNS (the cloud metadata service's names), else the zero Addr.
// Port 0 means the port is unknown: the connection is blocked only if it
// is blocked on every port. A name whose address is unknown is taken to
// resolve to a public address: the CIDR allowlist of open egress holds it,
// the blocks of cidr rules are taken not to.
func (m *ModalFilter) Blocks(host string, addr netip.Addr, port int) bool {
	if m.block {
		return true
	}
	host = NormalizeHost(host)
	if a, err := netip.ParseAddr(host); err == nil {
		addr = a
	} else if port == 443 || port == 0 {
		for _, d := range m.domains {
			if d.matchesHost(host) {
				return false // admitted on the SNI, whatever the address
			}
		}
	}
	if !addr.IsValid() {
		return !m.open
	}
	return m.cidrs == nil || !m.cidrs.Contains(addr.Unmap().WithZone(""))
}

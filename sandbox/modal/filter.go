package modal

import (
	"net/netip"

	"go4.org/netipx"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// filter is what Modal itself blocks under network rules, decided one
// destination at a time: a model of the configuration NetworkFor gives
// Modal: BlockNetwork without egress; a domain allowlist of the allow host
// rules (TLS on port 443, matched on the SNI only, whatever the address);
// and a CIDR allowlist of AllowedPrefixes (every port) when egress is open
// or there are cidr rules. Build it with newFilter; it is safe for
// concurrent use.
type filter struct {
	block   bool
	domains []netrules.Rule
	// cidrs is the CIDR allowlist; nil when there is none.
	cidrs *netipx.IPSet
	// open: no allow rules, so the CIDR allowlist holds every public
	// address.
	open bool
}

// newFilter compiles the model of what Modal blocks under r.
func newFilter(r netrules.Rules) *filter {
	f := &filter{block: !r.AllowEgress, open: len(r.Allow) == 0}
	if f.block {
		return f
	}
	cidrRules := f.open
	for _, a := range r.Allow {
		if a.Host == "" {
			cidrRules = true
			continue
		}
		if a.Problem() == "" {
			f.domains = append(f.domains, a)
		}
	}
	if cidrRules {
		var b netipx.IPSetBuilder
		for _, p := range r.AllowedPrefixes() {
			b.AddPrefix(p)
		}
		f.cidrs, _ = b.IPSet() // prefixes only: no error
	}
	return f
}

// blocks reports whether Modal blocks a connection to host:port. host is
// a name or an IP literal; addr is the name's address when it is known
// without DNS (the cloud metadata service's names), else the zero Addr.
// Port 0 means the port is unknown: the connection is blocked only if it
// is blocked on every port. A name whose address is unknown is taken to
// resolve to a public address: the CIDR allowlist of open egress holds it,
// the blocks of cidr rules are taken not to.
func (f *filter) blocks(host string, addr netip.Addr, port int) bool {
	if f.block {
		return true
	}
	host = netrules.NormalizeHost(host)
	if a, err := netip.ParseAddr(host); err == nil {
		addr = a
	} else if port == 443 || port == 0 {
		for _, d := range f.domains {
			if d.CoversHost(host) {
				return false // admitted on the SNI, whatever the address
			}
		}
	}
	if !addr.IsValid() {
		return !f.open
	}
	return f.cidrs == nil || !f.cidrs.Contains(addr.Unmap().WithZone(""))
}

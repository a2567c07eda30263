package modal

import (
	"errors"
	"slices"
	"strings"

	sdk "github.com/modal-labs/modal-client/go"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// Network is the network access of every sandbox, in the terms Modal
// enforces natively.
type Network struct {
	// Block gives sandboxes no network at all.
	Block bool
	// Domains, when not nil, is the domain allowlist: TLS connections on
	// port 443 whose SNI matches an entry. Nil means no domain allowlist.
	Domains []string
	// CIDRs, when not nil, is the CIDR allowlist: every port and protocol
	// to those blocks. Nil means no CIDR allowlist.
	CIDRs []string
}

// Open reports whether n lets sandboxes connect anywhere, built-in denied
// addresses included (NetworkFor never returns such a Network).
func (n Network) Open() bool { return !n.Block && n.Domains == nil && n.CIDRs == nil }

// NetworkFor maps the network rules onto what Modal enforces:
//
//   - no egress: Block (no network at all);
//   - open egress: the CIDR allowlist of every address but the deny cidr
//     rules and the built-in denies (netrules.Rules.AllowedPrefixes), so
//     the metadata service and private ranges stay out of reach;
//   - host rules: the domain allowlist (TLS on port 443, by SNI); a
//     wildcard *.example.com is listed together with its apex, since the
//     policy's wildcard covers the apex and Modal does not document whether
//     its own does;
//   - cidr rules: the CIDR allowlist, minus deny cidr rules and built-in
//     denies not lifted.
//
// The two allowlists are additive. What Modal cannot enforce
// (Capabilities.Gaps) the server refuses to run with, unless the policy
// says on_unenforceable: advisory; then host rules go to the domain
// allowlist whatever their ports (other ports stay blocked) and cidr rules
// allow every port.
func NetworkFor(n netrules.Rules) Network {
	if !n.AllowEgress {
		return Network{Block: true}
	}
	var out Network
	cidrRules := len(n.Allow) == 0
	for _, r := range n.Allow {
		if r.Host == "" {
			cidrRules = true
			continue
		}
		for _, d := range []string{r.Apex(), r.Host} {
			if !slices.Contains(out.Domains, d) {
				out.Domains = append(out.Domains, d)
			}
		}
	}
	if cidrRules {
		out.CIDRs = []string{}
		for _, p := range n.AllowedPrefixes() {
			out.CIDRs = append(out.CIDRs, p.String())
		}
	}
	return out
}

func (n Network) validate() error {
	if n.Block && (n.Domains != nil || n.CIDRs != nil) {
		return errors.New("modal: a network cannot be both blocked and allowlisted")
	}
	return nil
}

// apply sets n on the create parameters.
func (n Network) apply(p *sdk.SandboxCreateParams) {
	p.BlockNetwork = n.Block
	if n.Domains != nil {
		p.OutboundDomainAllowlist = &sdk.Allowlist{Entries: slices.Clone(n.Domains)}
	}
	if n.CIDRs != nil {
		p.OutboundCIDRAllowlist = &sdk.Allowlist{Entries: slices.Clone(n.CIDRs)}
	}
}

// String describes n for people, as `airlock-mcp doctor` shows it.
func (n Network) String() string {
	switch {
	case n.Block:
		return "blocked (BlockNetwork)"
	case n.Open():
		return "open (no allowlist)"
	}
	var parts []string
	if n.Domains != nil {
		parts = append(parts, "domain allowlist, TLS on 443 only: "+listOrNone(n.Domains))
	}
	if n.CIDRs != nil {
		parts = append(parts, "CIDR allowlist, every port: "+listOrNone(n.CIDRs))
	}
	return strings.Join(parts, "; ")
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

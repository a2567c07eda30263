package modal

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	sdk "github.com/modal-labs/modal-client/go"

	"github.com/airlock-mcp/airlock-mcp/policy"
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

// Open reports whether n lets sandboxes connect anywhere.
func (n Network) Open() bool { return !n.Block && n.Domains == nil && n.CIDRs == nil }

// NetworkFor maps the policy's network section onto what Modal enforces:
//
//   - no egress: Block (no network at all);
//   - egress with no rules: open;
//   - host rules: the domain allowlist; a wildcard *.example.com is listed
//     together with its apex, since the policy's wildcard covers the apex
//     and Modal does not document whether its own does;
//   - CIDR rules: the CIDR allowlist.
//
// The two allowlists are additive; when only one kind of rule is given,
// the other kind of destination is blocked. n must have passed
// policy.CheckBackend for Modal: a rule Modal cannot enforce exactly (a
// host rule not limited to port 443, a CIDR rule limited to some ports)
// is an error here too.
func NetworkFor(n policy.Network) (Network, error) {
	if !n.AllowEgress {
		return Network{Block: true}, nil
	}
	var out Network
	for _, r := range n.Allow {
		switch {
		case r.Host != "" && r.OnlyPort(443):
			for _, d := range []string{r.Apex(), r.Host} {
				if !slices.Contains(out.Domains, d) {
					out.Domains = append(out.Domains, d)
				}
			}
		case r.CIDR != "" && len(r.Ports) == 0:
			if !slices.Contains(out.CIDRs, r.CIDR) {
				out.CIDRs = append(out.CIDRs, r.CIDR)
			}
		default:
			return Network{}, fmt.Errorf("modal: network rule (%s) cannot be enforced on Modal (policy.CheckBackend explains why)", r)
		}
	}
	return out, nil
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
